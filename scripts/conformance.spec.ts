import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RecordedResponse } from '../libs/admin-api/src/traffic-recorder';
import { ConformanceChecker, OpenApiDocument, openApiPath } from './conformance';

const mdc = JSON.parse(
  readFileSync(join(__dirname, '..', 'docs', 'openapi.mdc.json'), 'utf8'),
) as OpenApiDocument;

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
    expect(checker.check([answer()])).toEqual({ checked: 1, outside: {}, violations: [] });
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
  });

  it('counts routes outside the document apart, and reports an undocumented admin route', () => {
    const push = answer({ method: 'POST', route: '/sync/v1/push', url: '/sync/v1/push' }, {});
    expect(checker.check([push])).toEqual({ checked: 0, outside: { '/sync/v1/push': 1 }, violations: [] });
    expect(problems(answer({ route: '/api/v1/secret' }))).toEqual([
      'route /api/v1/secret is not in the document',
    ]);
  });

  it('checks a HEAD answer as its GET without a body', () => {
    expect(problems(answer({ method: 'HEAD', body: '' }))).toEqual([]);
  });

  it('turns Fastify route templates into OpenAPI paths', () => {
    expect(openApiPath('/api/v1/domains/:name/entities/:kind/:entityName')).toBe(
      '/api/v1/domains/{name}/entities/{kind}/{entityName}',
    );
  });
});
