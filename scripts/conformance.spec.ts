import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RecordedResponse } from '../libs/admin-api/src/traffic-recorder';
import { codeFitsStatus, ConformanceChecker, OpenApiDocument, openApiPath } from './conformance';

const documentOf = (app: string) =>
  JSON.parse(readFileSync(join(__dirname, '..', 'docs', `openapi.${app}.json`), 'utf8')) as OpenApiDocument;
const mdc = documentOf('mdc');
const sdc = documentOf('sdc');

const domain = {
  id: '3fa85f64-5717-4562-b3fc-2c963f66afa6',
  name: 'acme',
  parent: null,
  settings: {},
  version: '7',
  createdAt: '2026-11-29T10:00:00.000Z',
  updatedAt: '2026-11-29T10:00:00.000Z',
};

/** A good answer of GET /api/v1/domains/acme at the MDC, changed by `change`. */
function answer(change: Partial<RecordedResponse> = {}, body: unknown = domain): RecordedResponse {
  return {
    app: mdc.info.title,
    site: 'master',
    method: 'GET',
    route: '/api/v1/domains/:name',
    url: '/api/v1/domains/acme',
    status: 200,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'x-served-by': 'master',
      'x-request-id': 'r1',
      etag: '"7"',
    },
    body: JSON.stringify(body),
    ...change,
  };
}

const error = (statusCode: number, code: string) => ({ statusCode, code, message: 'no' });

describe('the conformance check of recorded answers against the OpenAPI document', () => {
  const checker = new ConformanceChecker([mdc]);
  const problems = (recorded: RecordedResponse) =>
    checker.check([recorded]).violations.flatMap((v) => v.problems);

  it('passes an answer that matches its operation', () => {
    expect(checker.check([answer()]).violations).toEqual([]);
  });

  it('reports a status the operation does not declare', () => {
    expect(problems(answer({ status: 418 }, error(418, 'validation_failed')))).toEqual([
      'status 418 is not declared for GET /api/v1/domains/{name}',
    ]);
  });

  it('reports a body that does not match the schema: a missing field, a wrong type, a field not in the contract', () => {
    const { version: _version, ...noVersion } = domain;
    expect(problems(answer({}, noVersion))).toEqual(["body must have required property 'version'"]);
    expect(problems(answer({}, { ...domain, parent: 3 }))).toEqual(['body/parent must be string']);
    expect(problems(answer({}, { ...domain, secret: 'x' }))).toEqual([
      'body must NOT have additional properties',
    ]);
  });

  it('reports an error body whose code is not one of the spec’s', () => {
    expect(problems(answer({ status: 404 }, error(404, 'no_such_thing')))).toEqual([
      'body/code must be equal to one of the allowed values',
    ]);
  });

  it('reports a required header that is missing', () => {
    const { 'x-served-by': _servedBy, ...headers } = answer().headers;
    expect(problems(answer({ headers }))).toEqual(['required header X-Served-By is missing']);
    const unauthorized = answer({ status: 401 }, error(401, 'unauthorized'));
    expect(problems(unauthorized)).toEqual(['required header WWW-Authenticate is missing']);
  });

  it('reports a content type the operation does not declare', () => {
    const text = answer({ headers: { ...answer().headers, 'content-type': 'text/plain' } });
    expect(problems(text)).toEqual(['content type "text/plain" is not declared (application/json)']);
  });

  it('holds an answer no route gave to the error schema', () => {
    const unrouted = { route: null, url: '/nope', status: 404 };
    expect(problems(answer(unrouted, error(404, 'not_found')))).toEqual([]);
    expect(problems(answer(unrouted, { message: 'Route GET:/nope not found' }))).toEqual([
      "body must have required property 'statusCode'",
      "body must have required property 'code'",
    ]);
    expect(problems(answer({ ...unrouted, status: 200 }, {}))).toEqual(['status 200 without a route']);
    const html = { ...unrouted, headers: { ...answer().headers, 'content-type': 'text/html' } };
    expect(problems(answer(html, error(404, 'not_found')))).toEqual([
      'content type "text/html" is not the error\'s (application/json)',
    ]);
  });

  it('counts routes outside the document apart, and reports an undocumented admin route', () => {
    const push = answer({ method: 'POST', route: '/sync/v1/push', url: '/sync/v1/push' }, {});
    expect(checker.check([push])).toMatchObject({
      checked: 0,
      outside: { '/sync/v1/push': 1 },
      violations: [],
    });
    expect(problems(answer({ route: '/api/v1/secret' }))).toEqual([
      'route /api/v1/secret is not in the document',
    ]);
  });

  it('checks a HEAD answer as its GET without a body', () => {
    expect(problems(answer({ method: 'HEAD', body: '' }))).toEqual([]);
  });

  it('ties an error body’s statusCode and code to the HTTP status', () => {
    expect(problems(answer({ status: 404 }, error(400, 'validation_failed')))).toEqual([
      'body/statusCode 400 is not the status 404',
      'body/code validation_failed does not go with status 404',
    ]);
    expect(problems(answer({ status: 404 }, error(404, 'already_exists')))).toEqual([
      'body/code already_exists does not go with status 404',
    ]);
    expect(problems(answer({ status: 404 }, error(404, 'entity_not_found')))).toEqual([]);
    // Node's and Fastify's refusals (exception.filter.ts): validation_failed with a 4xx no code owns.
    expect([408, 431, 405, 400].map((s) => codeFitsStatus('validation_failed', s))).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect([404, 409, 500].map((s) => codeFitsStatus('validation_failed', s))).toEqual([false, false, false]);
    expect(codeFitsStatus('mdc_unreachable', 503)).toBe(true);
    expect(codeFitsStatus('site_unreachable', 503)).toBe(false);
  });

  it('requires ETag on a read', () => {
    const { etag: _etag, ...headers } = answer().headers;
    expect(problems(answer({ headers }))).toEqual(['required header ETag is missing']);
  });

  it('requires Retry-After with 429 and 503 store_unavailable/queue_full, not with mdc_unreachable', () => {
    const unavailable = (code: string, headers: Record<string, string> = {}) =>
      answer({ status: 503, headers: { ...answer().headers, ...headers } }, error(503, code));
    expect(problems(unavailable('store_unavailable'))).toEqual([
      'header Retry-After is missing (store_unavailable)',
    ]);
    expect(problems(unavailable('queue_full'))).toEqual(['header Retry-After is missing (queue_full)']);
    expect(problems(unavailable('store_unavailable', { 'retry-after': '5' }))).toEqual([]);
    expect(problems(unavailable('mdc_unreachable'))).toEqual([]);
    expect(problems(unavailable('mdc_unreachable', { 'retry-after': '5' }))).toEqual([
      'header Retry-After with mdc_unreachable',
    ]);
    const limited = answer({ status: 429 }, error(429, 'rate_limited'));
    expect(problems(limited)).toEqual([
      'required header Retry-After is missing',
      'header Retry-After is missing (rate_limited)',
    ]);
  });

  it('checks the value of each documented header present', () => {
    const withHeaders = (headers: Record<string, string>, status = 200, body: unknown = domain) =>
      answer({ status, headers: { ...answer().headers, ...headers } }, body);
    expect(problems(withHeaders({ etag: '7' }))).toEqual(['header ETag must match pattern "^"[^"]+"$" (7)']);
    expect(problems(withHeaders({ etag: '"12+site-a.3"' }))).toEqual([]);
    expect(problems(withHeaders({ 'x-served-by': '' }))).toEqual([
      'header X-Served-By must NOT have fewer than 1 characters ()',
    ]);
    const limited = (value: string) => withHeaders({ 'retry-after': value }, 429, error(429, 'rate_limited'));
    expect(problems(limited('5'))).toEqual([]);
    expect(problems(limited('soon'))).toEqual(['header Retry-After must be integer (soon)']);
    const denied = withHeaders({ 'www-authenticate': 'Basic' }, 401, error(401, 'unauthorized'));
    expect(problems(denied)).toEqual(['header WWW-Authenticate must match pattern "^Bearer" (Basic)']);
    const created = answer(
      {
        method: 'POST',
        route: '/api/v1/domains',
        url: '/api/v1/domains',
        status: 201,
        headers: { ...answer().headers, 'x-sync-state': 'maybe' },
      },
      domain,
    );
    expect(problems(created)).toEqual([
      'header X-Sync-State must be equal to one of the allowed values (maybe)',
    ]);
  });

  it('holds each POST /batch result to the error or object schemas', () => {
    const batch = (...results: unknown[]) =>
      answer({ method: 'POST', route: '/api/v1/batch', url: '/api/v1/batch' }, { results });
    const entity = {
      ...domain,
      domain: 'acme',
      kind: 'user',
      name: 'alice',
      attributes: {},
    } as Record<string, unknown>;
    delete entity.parent;
    delete entity.settings;
    expect(
      problems(
        batch(
          { status: 201, body: domain },
          { status: 200, body: entity },
          { status: 200, body: { items: [], next: null } },
          { status: 204, body: null },
          { status: 404, body: error(404, 'domain_not_found') },
        ),
      ),
    ).toEqual([]);
    expect(
      problems(
        batch(
          { status: 404, body: error(400, 'validation_failed') },
          { status: 201, body: { nope: 1 } },
          { status: 204, body: domain },
          { status: 409, body: { message: 'no' } },
        ),
      ),
    ).toEqual([
      'results/0: body/statusCode 400 is not the status 404',
      'results/0: body/code validation_failed does not go with status 404',
      'results/1/body matches none of DomainDto, EntityDto, DomainPageDto, EntityPageDto',
      'results/2: a body with 204',
      "body/results/3/body must have required property 'statusCode'",
      "body/results/3/body must have required property 'code'",
    ]);
  });

  it('counts answers checked without their body by reason, and holds Node’s own refusals to the error schema', () => {
    const metrics = answer(
      {
        route: '/metrics',
        url: '/metrics',
        headers: { ...answer().headers, 'content-type': 'text/plain; version=0.0.4' },
      },
      null,
    );
    metrics.body = '# metrics';
    const streamed = answer({ body: null });
    const truncated = answer({ body: '{"id":', truncated: true });
    expect(checker.check([metrics, streamed, truncated])).toMatchObject({
      checked: 3,
      skipped: { 'type text/plain': 1, streamed: 1, truncated: 1 },
      violations: [],
    });
    const refusal = (body: unknown) =>
      answer(
        {
          method: '-',
          route: null,
          url: '-',
          status: 431,
          clientError: true,
          headers: { 'content-type': 'application/json; charset=utf-8', 'x-served-by': 'master' },
        },
        body,
      );
    expect(problems(refusal(error(431, 'validation_failed')))).toEqual([]);
    expect(problems(refusal({ message: 'too large' }))).toEqual([
      "body must have required property 'statusCode'",
      "body must have required property 'code'",
    ]);
    expect(problems({ ...refusal(error(431, 'validation_failed')), clientError: undefined })).toEqual([
      'header x-request-id is missing',
    ]);
  });

  it('counts the answers checked per document and the operation × status pairs seen', () => {
    const both = new ConformanceChecker([mdc, sdc]);
    const report = both.check([answer(), answer(), answer({ status: 404 }, error(404, 'domain_not_found'))]);
    expect(report.checkedBy).toEqual({ [mdc.info.title]: 3 });
    expect(report.seen).toEqual({ 'GET /api/v1/domains/{name}': { 200: 2, 404: 1 } });
  });

  it('checks an answer matched by a `4XX` or `default` response against that response', () => {
    const ranged = structuredClone(mdc);
    const responses = ranged.paths['/api/v1/domains/{name}'].get.responses;
    responses['4XX'] = responses['404'];
    delete responses['404'];
    responses.default = responses['503'];
    delete responses['503'];
    const rangedChecker = new ConformanceChecker([ranged]);
    const check = (recorded: RecordedResponse) =>
      rangedChecker.check([recorded]).violations.flatMap((v) => v.problems);
    expect(check(answer({ status: 404 }, error(404, 'domain_not_found')))).toEqual([]);
    expect(check(answer({ status: 404 }, { message: 'no' }))).toEqual([
      "body must have required property 'statusCode'",
      "body must have required property 'code'",
    ]);
    const unavailable = { ...answer().headers, 'retry-after': '5' };
    expect(check(answer({ status: 503, headers: unavailable }, error(503, 'store_unavailable')))).toEqual([]);
  });

  it('turns Fastify route templates into OpenAPI paths', () => {
    expect(openApiPath('/api/v1/domains/:name/entities/:kind/:entityName')).toBe(
      '/api/v1/domains/{name}/entities/{kind}/{entityName}',
    );
  });
});
