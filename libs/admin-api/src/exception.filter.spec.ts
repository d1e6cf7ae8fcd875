import { HttpException, Logger } from '@nestjs/common';
import { errorCodes } from 'fastify';
import { ApiError } from './errors';
import { clientErrorBody, toErrorResponse } from './exception.filter';

/** SPEC §5: every error, the framework's included, is `{ statusCode, code, message }` with a spec code. */
describe('framework errors in the one error mapping', () => {
  const logger = { error: jest.fn() } as unknown as Logger;
  const answer = (error: unknown) => toErrorResponse(error, logger);
  /** As Nest's Fastify adapter hands a Fastify error to the exception filter. */
  const wrapped = (error: Error & { statusCode?: number }) =>
    new HttpException(error.message, error.statusCode ?? 500, { cause: error });

  it.each([
    ['FST_ERR_BAD_URL', 400, 'validation_failed', 'the path has a bad % escape'],
    ['FST_ERR_MAX_PARAM_LENGTH', 414, 'validation_failed', 'a path parameter is longer than any name can be'],
    [
      'FST_ERR_CTP_INVALID_MEDIA_TYPE',
      415,
      'unsupported_media_type',
      'request bodies are JSON: send Content-Type: application/json',
    ],
    ['FST_ERR_CTP_BODY_TOO_LARGE', 413, 'payload_too_large', 'Request body is too large'],
    [
      'FST_ERR_CTP_INVALID_CONTENT_LENGTH',
      400,
      'validation_failed',
      'Request body size did not match Content-Length',
    ],
  ] as const)(
    'answers Fastify’s %s, raw or wrapped by Nest, with %i %s',
    (name, statusCode, code, message) => {
      const error = new errorCodes[name]();
      for (const thrown of [error, wrapped(error)]) {
        expect(answer(thrown).body).toEqual({ statusCode, code, message });
      }
      expect(logger.error).not.toHaveBeenCalled();
    },
  );

  it('gives every 401 a WWW-Authenticate: Bearer challenge, and no other answer', () => {
    expect(answer(new ApiError('unauthorized', 'a bearer token is required')).headers).toEqual({
      'www-authenticate': 'Bearer',
    });
    expect(answer(new HttpException('no', 401)).headers).toEqual({ 'www-authenticate': 'Bearer' });
    expect(answer(new ApiError('forbidden', 'no')).headers).toEqual({});
  });

  it.each([
    ['ERR_HTTP_REQUEST_TIMEOUT', 408],
    ['HPE_HEADER_OVERFLOW', 431],
    ['HPE_INVALID_METHOD', 400],
    ['HPE_INVALID_CONTENT_LENGTH', 400],
    ['HPE_INVALID_URL', 400],
    [undefined, 400],
  ])('answers a request Node’s HTTP layer refused (%s) with %i validation_failed', (code, statusCode) => {
    const body = clientErrorBody(Object.assign(new Error('refused'), { code }));
    expect(body).toEqual({ statusCode, code: 'validation_failed', message: expect.any(String) });
    expect(body.message.length).toBeGreaterThan(5);
  });
});
