import { apiUrl, describeConnectionError, describeRefusal, entityPath, refusalOf } from './api-client';

describe('addressing the admin API (SPEC §5)', () => {
  it('puts the path under /api/v1 of the site, with the defined query values', () => {
    expect(
      apiUrl('http://127.0.0.1:4000/', '/domains', { parent: 'acme', limit: 50, after: undefined }),
    ).toBe('http://127.0.0.1:4000/api/v1/domains?parent=acme&limit=50');
  });

  it('percent-encodes each segment of an entity path', () => {
    expect(entityPath('acme', 'user', 'ann smith?#')).toBe('/domains/acme/entities/user/ann%20smith%3F%23');
  });
});

describe('reporting a refusal', () => {
  it("prints the API's code and message with the status", () => {
    const refusal = refusalOf({
      status: 409,
      body: { statusCode: 409, code: 'already_exists', message: 'domain acme exists' },
    });
    expect(describeRefusal(refusal)).toBe('already_exists (409): domain acme exists');
  });

  it('names an answer that is not the API by its status', () => {
    expect(refusalOf({ status: 502, body: 'Bad Gateway' })).toEqual({
      status: 502,
      code: 'http_502',
      message: 'Bad Gateway',
    });
  });

  it("says why fetch could not reach the site, from the error's cause", () => {
    const err = new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } });
    expect(describeConnectionError('http://h:1', err)).toBe('cannot reach http://h:1: ECONNREFUSED');
  });

  it('says how long it waited for a site that did not answer', () => {
    const err = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    expect(describeConnectionError('http://h:1', err, 2000)).toBe('no answer from http://h:1 in 2000 ms');
  });
});
