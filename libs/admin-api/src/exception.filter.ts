import { randomUUID } from 'node:crypto';
import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Inject, Logger } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
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

/** Fastify's own errors (raised before a handler runs) that have a spec code. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_JSON_BODY: 'validation_failed',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'validation_failed',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'validation_failed',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'validation_failed',
};

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

/** Maps anything thrown to SPEC §5's `{ statusCode, code, message }`; logs an error id with every 500. */
export function toErrorResponse(
  error: unknown,
  logger: Pick<Logger, 'error'>,
  isStoreFailure: StoreFailureCheck = () => false,
): { body: ErrorBody; headers: Record<string, string> } {
  if (isDomainError(error)) return toErrorResponse(apiErrorOf(error), logger);
  if (isStoreFailure(error)) return toErrorResponse(new StoreUnavailableError(messageOf(error)), logger);
  if (error instanceof ApiError) return { body: error.body(), headers: error.headers };
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
  const fastifyCode = typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
  if (typeof fastifyCode === 'string' && FASTIFY_CODES[fastifyCode]) {
    const code = FASTIFY_CODES[fastifyCode];
    return { body: { statusCode: STATUS_OF[code], code, message: messageOf(error) }, headers: {} };
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

  catch(error: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const { body, headers } = toErrorResponse(error, this.logger, this.isStoreFailure);
    if (reply.sent) return;
    void reply.status(body.statusCode).headers(headers).send(body);
  }
}
