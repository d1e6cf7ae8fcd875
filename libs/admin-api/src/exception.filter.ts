import { randomUUID } from 'node:crypto';
import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Inject, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  ApiError,
  apiErrorOf,
  ErrorBody,
  ErrorCode,
  isDomainError,
  messageOf,
  STATUS_OF,
  STORE_FAILURE,
  StoreFailureCheck,
  StoreUnavailableError,
} from './errors';
import { discardRestOfBody } from './lingering-close';

/** Fastify's own errors whose message says too little (or echoes the whole path); the rest keep theirs. */
const FASTIFY_MESSAGES: Record<string, string> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'request bodies are JSON: send Content-Type: application/json',
  FST_ERR_BAD_URL: 'the path has a bad % escape',
  FST_ERR_MAX_PARAM_LENGTH: 'a path parameter is longer than any name can be',
};

/**
 * Node's HTTP parser and server refuse some requests before Fastify sees them (SPEC §5: answered in
 * the spec's shape all the same). The status stays the one HTTP gives the case; the code is the
 * closest of the spec's.
 */
const CLIENT_ERRORS: Record<string, { status: number; message: string }> = {
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, message: 'the request did not arrive in time' },
  HPE_HEADER_OVERFLOW: { status: 431, message: 'the request line and headers are too large' },
  HPE_INVALID_METHOD: { status: 400, message: 'unknown HTTP method' },
  HPE_INVALID_CONTENT_LENGTH: { status: 400, message: 'Content-Length is not a valid length' },
};

/** The answer to a request Node's HTTP layer refused (`clientError`), in the spec's shape. */
export function clientErrorBody(error: { code?: unknown }): ErrorBody {
  const code = typeof error.code === 'string' ? error.code : 'unknown';
  const known = CLIENT_ERRORS[code] ?? { status: 400, message: `malformed HTTP request (${code})` };
  return { statusCode: known.status, code: 'validation_failed', message: known.message };
}

const CODE_OF_STATUS: Record<number, ErrorCode> = {
  400: 'validation_failed',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  503: 'store_unavailable',
};

/** Fastify's own 4xx errors (raised before a handler runs): their status, with the closest spec code. */
function fastifyError(error: unknown): ErrorBody | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error) || !('statusCode' in error)) return;
  const { code, statusCode } = error;
  if (typeof code !== 'string' || !code.startsWith('FST_')) return;
  if (typeof statusCode !== 'number' || statusCode < 400 || statusCode > 499) return;
  return {
    statusCode,
    code: CODE_OF_STATUS[statusCode] ?? 'validation_failed',
    message: FASTIFY_MESSAGES[code] ?? messageOf(error),
  };
}

/** Maps anything thrown to SPEC §5's `{ statusCode, code, message }`; logs an error id with every 500. */
export function toErrorResponse(
  error: unknown,
  logger: Pick<Logger, 'error'>,
  isStoreFailure: StoreFailureCheck = () => false,
): { body: ErrorBody; headers: Record<string, string> } {
  const answer = answerOf(error, logger, isStoreFailure);
  // SPEC §5: a 401 says which scheme it wants.
  if (answer.body.statusCode === 401) answer.headers = { ...answer.headers, 'www-authenticate': 'Bearer' };
  return answer;
}

function answerOf(
  error: unknown,
  logger: Pick<Logger, 'error'>,
  isStoreFailure: StoreFailureCheck,
): { body: ErrorBody; headers: Record<string, string> } {
  if (isDomainError(error)) return answerOf(apiErrorOf(error), logger, isStoreFailure);
  if (isStoreFailure(error))
    return answerOf(new StoreUnavailableError(messageOf(error)), logger, isStoreFailure);
  if (error instanceof ApiError) return { body: error.body(), headers: error.headers };
  // Fastify's own errors reach the filter wrapped in an HttpException by Nest's adapter.
  const framework = fastifyError(error instanceof HttpException ? error.cause : error);
  if (framework) return { body: framework, headers: {} };
  if (error instanceof HttpException) {
    const status = error.getStatus();
    const code = CODE_OF_STATUS[status] ?? 'internal_error';
    const response = error.getResponse();
    const raw =
      typeof response === 'object' && response && 'message' in response ? response.message : error.message;
    const message = Array.isArray(raw) ? raw.join('; ') : String(raw);
    return {
      body: { statusCode: STATUS_OF[code] === status ? status : STATUS_OF[code], code, message },
      headers: {},
    };
  }
  const errorId = randomUUID();
  logger.error({ err: error, errorId }, `unhandled error ${errorId}`);
  return {
    body: { statusCode: 500, code: 'internal_error', message: `internal error (id ${errorId})`, errorId },
    headers: {},
  };
}

@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('ApiExceptionFilter');

  constructor(@Inject(STORE_FAILURE) private readonly isStoreFailure: StoreFailureCheck) {}

  async catch(error: unknown, host: ArgumentsHost): Promise<void> {
    const http = host.switchToHttp();
    const reply = http.getResponse<FastifyReply>();
    const { body, headers } = toErrorResponse(error, this.logger, this.isStoreFailure);
    // SPEC §5: a client still sending its body (a 413, a 415) must be able to read the answer.
    await discardRestOfBody(http.getRequest<FastifyRequest>().raw);
    if (reply.sent) return;
    void reply.status(body.statusCode).headers(headers).send(body);
  }
}
