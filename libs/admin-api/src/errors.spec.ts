import { ProtocolError } from '@dd/sync-protocol';
import { Logger } from '@nestjs/common';
import { toErrorResponse } from './exception.filter';
import { QueueFullError, RefusedError, SitesUnreachableError } from './errors';

/** SPEC §5: every domain error has one answer, given by the one filter. */
describe('domain errors in the exception filter', () => {
  const logger = new Logger('test');
  const answer = (error: unknown) => toErrorResponse(error, logger);

  it('answers a refused change with the rule’s code and the state that won', () => {
    const winner = { id: 'd-1', deletedAt: 'then' };
    expect(answer(new RefusedError({ code: 'has_children', message: 'has children', winner })).body).toEqual({
      statusCode: 409,
      code: 'has_children',
      message: 'has children',
      winner,
    });
  });

  it('answers a full queue with 503 queue_full and Retry-After', () => {
    const { body, headers } = answer(new QueueFullError(10000));
    expect(body).toMatchObject({ statusCode: 503, code: 'queue_full', capacity: 10000 });
    expect(headers['retry-after']).toMatch(/^\d+$/);
  });

  it('answers 502 site_unreachable naming the sites tried, and 503 mdc_unreachable when only the MDC could take it', () => {
    expect(answer(new SitesUnreachableError(['site-b', 'master'])).body).toMatchObject({
      statusCode: 502,
      code: 'site_unreachable',
      tried: ['site-b', 'master'],
    });
    expect(answer(new SitesUnreachableError(['master'], true)).body).toMatchObject({
      statusCode: 503,
      code: 'mdc_unreachable',
    });
  });

  it('answers a malformed site call with 400 validation_failed', () => {
    expect(answer(new ProtocolError('changes must be an array')).body).toMatchObject({
      statusCode: 400,
      code: 'validation_failed',
    });
  });
});
