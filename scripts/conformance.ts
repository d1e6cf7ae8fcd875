import Ajv, { ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { STATUS_OF } from '../libs/admin-api/src/errors';
import type { RecordedResponse } from '../libs/admin-api/src/traffic-recorder';

/**
 * The conformance check of CI (issue 16): real answers, recorded during an e2e run
 * (libs/admin-api/src/traffic-recorder.ts), held to the committed OpenAPI document of the app that
 * gave them. For each answer: its status must be one its operation declares, its body must validate
 * against the declared schema of its content type, and the headers declared required must be there.
 *
 * Answers no route matched (a 404 of an unknown path, a refusal of the router) are checked as errors:
 * a 4xx/5xx whose body is the document's error schema. Answers of routes outside the document (the
 * site-to-site protocol, /docs itself) are counted apart and not checked; an undocumented route under
 * /api/ is a violation. Beyond the schemas, SPEC §5's own rules: an error's `statusCode` is the HTTP
 * status and its `code` one the app gives that status; `Retry-After` comes with 429 and 503
 * `store_unavailable`/`queue_full`; each header present is checked against its documented schema; each
 * result of `POST /batch` is held to the error or object schemas. Answers whose body is not checked (a
 * stream, cut short, not JSON) are counted apart by reason.
 */

interface HeaderObject {
  required?: boolean;
  $ref?: string;
  schema?: object;
}

interface ResponseObject {
  headers?: Record<string, HeaderObject>;
  content?: Record<string, unknown>;
}

export interface OpenApiDocument {
  info: { title: string };
  paths: Record<string, Record<string, { responses: Record<string, ResponseObject> }>>;
  components: { schemas: Record<string, unknown>; headers?: Record<string, HeaderObject> };
}

export interface Violation {
  response: string;
  problems: string[];
}

export interface Report {
  /** answers held to a document (operations and unrouted errors) */
  checked: number;
  /** answers checked, by document title */
  checkedBy: Record<string, number>;
  /** answers checked, by `METHOD path` (or `unrouted`) then status */
  seen: Record<string, Record<string, number>>;
  /** answers of routes outside the document, by route */
  outside: Record<string, number>;
  /** checked answers whose body was not held to a schema, by reason (streamed, truncated, a non-JSON type) */
  skipped: Record<string, number>;
  violations: Violation[];
}

const ERROR_SCHEMA = '/components/schemas/ErrorDto';

/** What a `POST /batch` result's 2xx body may be (SPEC §5: the op's answer as if sent alone). */
const OBJECT_SCHEMAS = ['DomainDto', 'EntityDto', 'DomainPageDto', 'EntityPageDto'];

/** The error codes that must come with `Retry-After` (SPEC §5; not `mdc_unreachable`). */
const RETRY_AFTER_CODES = new Set(['rate_limited', 'store_unavailable', 'queue_full']);

/** The 4xx statuses that have a code of their own; Node's and Fastify's other 4xx refusals are `validation_failed`. */
const OWNED_4XX = new Set(
  Object.entries(STATUS_OF)
    .filter(([code, status]) => code !== 'validation_failed' && status < 500)
    .map(([, status]) => status),
);

/**
 * Whether the app gives `code` with `status` (errors.ts STATUS_OF; exception.filter.ts: a refusal of
 * Node's HTTP layer — 408, 431 — or of Fastify with a 4xx status no code owns is `validation_failed`).
 */
export function codeFitsStatus(code: string, status: number): boolean {
  if (!(code in STATUS_OF)) return true; // the schema's enum reports it
  if (STATUS_OF[code as keyof typeof STATUS_OF] === status) return true;
  return code === 'validation_failed' && status >= 400 && status < 500 && !OWNED_4XX.has(status);
}

/** JSON pointer escaping of one path segment (RFC 6901). */
const escape = (segment: string) => segment.replace(/~/g, '~0').replace(/\//g, '~1');

/** An answer's media type, without parameters: `application/json`. */
const mediaType = (answer: RecordedResponse) =>
  (answer.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();

/** Fastify's `/api/v1/domains/:name` as OpenAPI's `/api/v1/domains/{name}`. */
export const openApiPath = (route: string) => route.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

/**
 * The document's object schemas made closed: a property the document does not name is a violation,
 * so an answer cannot grow a field the contract does not show. (Free-form objects — settings,
 * attributes — say `additionalProperties: true` and stay open.)
 */
function closeObjects(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closeObjects);
  if (typeof schema !== 'object' || schema === null) return schema;
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) copy[key] = closeObjects(value);
  if ('properties' in copy && !('additionalProperties' in copy)) copy.additionalProperties = false;
  return copy;
}

export class ConformanceChecker {
  private readonly ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
  private readonly documents = new Map<string, { key: string; document: OpenApiDocument }>();
  private readonly validators = new Map<string, ValidateFunction>();
  /** header values are strings: `Retry-After: 5` is checked as the integer it spells */
  private readonly headerAjv = new Ajv({ strict: false, allErrors: true, coerceTypes: true });
  private readonly headerValidators = new Map<object, ValidateFunction>();

  constructor(documents: OpenApiDocument[]) {
    addFormats(this.ajv);
    documents.forEach((document, i) => {
      const key = `doc${i}`;
      this.ajv.addSchema(closeObjects(document) as object, key);
      this.documents.set(document.info.title, { key, document });
    });
  }

  check(recorded: RecordedResponse[]): Report {
    const report: Report = { checked: 0, checkedBy: {}, seen: {}, outside: {}, skipped: {}, violations: [] };
    for (const answer of recorded) {
      const problems = this.problemsOf(answer, report);
      if (problems === undefined) continue;
      report.checked++;
      report.checkedBy[answer.app] = (report.checkedBy[answer.app] ?? 0) + 1;
      const operation = answer.route === null ? 'unrouted' : `${answer.method} ${openApiPath(answer.route)}`;
      const statuses = (report.seen[operation] ??= {});
      statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
      if (problems.length > 0)
        report.violations.push({
          response: `${answer.site} ${answer.method} ${answer.url} → ${answer.status}`,
          problems,
        });
    }
    return report;
  }

  /** What is wrong with one answer; undefined when it is outside the documents. */
  private problemsOf(answer: RecordedResponse, report: Report): string[] | undefined {
    const found = this.documents.get(answer.app);
    if (!found) return [`no document titled "${answer.app}"`];
    const { key, document } = found;
    const path = answer.route === null ? undefined : openApiPath(answer.route);
    const item = path === undefined ? undefined : document.paths[path];
    if (path !== undefined && item === undefined) {
      if (path.startsWith('/api/')) return [`route ${path} is not in the document`];
      report.outside[path] = (report.outside[path] ?? 0) + 1;
      return undefined;
    }
    if (item === undefined) return this.unrouted(key, document, answer, report);
    // Fastify answers HEAD for every GET route: the GET's answer without its body.
    const head = answer.method === 'HEAD';
    const operation = item[head ? 'get' : answer.method.toLowerCase()];
    if (!operation) return [`${answer.method} ${path} is not in the document`];
    const status = String(answer.status);
    const matched = [status, `${status[0]}XX`, 'default'].find((k) => k in operation.responses);
    if (matched === undefined) return [`status ${status} is not declared for ${answer.method} ${path}`];
    const declared = operation.responses[matched];
    const method = head ? 'get' : answer.method.toLowerCase();
    const pointer = `/paths/${escape(path!)}/${method}/responses/${escape(matched)}`;
    const problems = [
      ...this.headerProblems(document, declared, answer),
      ...(head ? [] : this.bodyProblems(key, pointer, declared, answer, report)),
    ];
    if (problems.length === 0 && !head && answer.status === 200 && path === '/api/v1/batch')
      problems.push(...this.batchProblems(key, answer));
    return problems;
  }

  /** An answer no route gave: an error in the spec's shape, with the headers every answer carries. */
  private unrouted(
    key: string,
    document: OpenApiDocument,
    answer: RecordedResponse,
    report: Report,
  ): string[] {
    if (answer.status < 400) return [`status ${answer.status} without a route`];
    const problems: string[] = [];
    // A refusal of Node's HTTP layer is written before any request id exists (bootstrap.ts).
    const always = answer.clientError ? ['x-served-by'] : ['x-served-by', 'x-request-id'];
    for (const header of always)
      if (!(header in answer.headers)) problems.push(`header ${header} is missing`);
    const values = { 'X-Served-By': 'X-Served-By', 'X-Request-Id': 'X-Request-Id' };
    for (const [name, entry] of Object.entries(values)) {
      const schema = document.components.headers?.[entry]?.schema;
      const value = answer.headers[name.toLowerCase()];
      if (schema && value !== undefined) problems.push(...this.headerValueProblems(name, schema, value));
    }
    const type = mediaType(answer);
    if (type !== 'application/json')
      problems.push(`content type "${type}" is not the error's (application/json)`);
    if (answer.truncated) return [...problems, ...this.skip(report, 'truncated')];
    return [...problems, ...this.jsonProblems(key, ERROR_SCHEMA, answer)];
  }

  private skip(report: Report, reason: string): [] {
    report.skipped[reason] = (report.skipped[reason] ?? 0) + 1;
    return [];
  }

  private headerProblems(
    document: OpenApiDocument,
    declared: ResponseObject,
    answer: RecordedResponse,
  ): string[] {
    const problems: string[] = [];
    for (const [name, header] of Object.entries(declared.headers ?? {})) {
      const resolved = header.$ref ? document.components.headers?.[header.$ref.split('/').pop()!] : header;
      const value = answer.headers[name.toLowerCase()];
      if (value === undefined) {
        if (resolved?.required) problems.push(`required header ${name} is missing`);
      } else if (resolved?.schema) problems.push(...this.headerValueProblems(name, resolved.schema, value));
    }
    return problems;
  }

  private headerValueProblems(name: string, schema: object, value: string): string[] {
    let validate = this.headerValidators.get(schema);
    if (!validate) {
      validate = this.headerAjv.compile({ type: 'object', properties: { value: schema } });
      this.headerValidators.set(schema, validate);
    }
    if (validate({ value })) return [];
    return (validate.errors ?? []).map((e) => `header ${name} ${e.message ?? 'is invalid'} (${value})`);
  }

  /** SPEC §5's rules on an error beyond its schema: the status it states, its code's status, Retry-After. */
  private errorRules(status: number, body: unknown, headers?: Record<string, string>): string[] {
    if (typeof body !== 'object' || body === null) return [];
    const { statusCode, code } = body as { statusCode?: unknown; code?: unknown };
    const problems: string[] = [];
    if (typeof statusCode === 'number' && statusCode !== status)
      problems.push(`body/statusCode ${statusCode} is not the status ${status}`);
    if (typeof code === 'string' && !codeFitsStatus(code, status))
      problems.push(`body/code ${code} does not go with status ${status}`);
    if (headers && typeof code === 'string') {
      const retryAfter = 'retry-after' in headers;
      if (RETRY_AFTER_CODES.has(code) && !retryAfter)
        problems.push(`header Retry-After is missing (${code})`);
      if (code === 'mdc_unreachable' && retryAfter) problems.push('header Retry-After with mdc_unreachable');
    }
    return problems;
  }

  /** SPEC §5 `POST /batch`: each result is an error (with the error rules) or the op's own answer. */
  private batchProblems(key: string, answer: RecordedResponse): string[] {
    const results = (JSON.parse(answer.body!) as { results: Array<{ status: number; body?: unknown }> })
      .results;
    const problems: string[] = [];
    results.forEach(({ status, body }, i) => {
      const at = `results/${i}`;
      if (status >= 400) {
        const validate = this.validator(`${key}#${ERROR_SCHEMA}`);
        if (!validate(body)) problems.push(...this.ajvProblems(`body/${at}/body`, validate));
        else problems.push(...this.errorRules(status, body).map((p) => `${at}: ${p}`));
      } else if (status === 204) {
        if (body !== null && body !== undefined) problems.push(`${at}: a body with 204`);
      } else if (status < 200 || status > 299) {
        problems.push(`${at}: status ${status}`);
      } else if (!OBJECT_SCHEMAS.some((name) => this.validator(`${key}#/components/schemas/${name}`)(body))) {
        problems.push(`${at}/body matches none of ${OBJECT_SCHEMAS.join(', ')}`);
      }
    });
    return problems;
  }

  private bodyProblems(
    key: string,
    pointer: string,
    declared: ResponseObject,
    answer: RecordedResponse,
    report: Report,
  ): string[] {
    const content = declared.content ?? {};
    const empty = answer.body === null ? false : answer.body.length === 0;
    if (Object.keys(content).length === 0) return empty ? [] : ['a body where the document declares none'];
    if (empty) return ['no body where the document declares one'];
    const type = mediaType(answer);
    if (!(type in content))
      return [`content type "${type}" is not declared (${Object.keys(content).join(', ')})`];
    if (type !== 'application/json') return this.skip(report, `type ${type}`);
    if (answer.body === null) return this.skip(report, 'streamed');
    if (answer.truncated) return this.skip(report, 'truncated');
    return this.jsonProblems(key, `${pointer}/content/${escape(type)}/schema`, answer);
  }

  private jsonProblems(key: string, pointer: string, answer: RecordedResponse): string[] {
    let body: unknown;
    try {
      body = JSON.parse(answer.body ?? '');
    } catch {
      return ['the body is not JSON'];
    }
    const validate = this.validator(`${key}#${pointer}`);
    if (!validate(body)) return this.ajvProblems('body', validate);
    return answer.status >= 400 ? this.errorRules(answer.status, body, answer.headers) : [];
  }

  private ajvProblems(at: string, validate: ValidateFunction): string[] {
    return (validate.errors ?? []).map((e) => `${at}${e.instancePath} ${e.message ?? 'is invalid'}`);
  }

  private validator(ref: string): ValidateFunction {
    let validate = this.validators.get(ref);
    if (!validate) {
      validate = this.ajv.getSchema(ref);
      if (!validate) throw new Error(`no schema at ${ref}`);
      this.validators.set(ref, validate);
    }
    return validate;
  }
}
