import Ajv, { ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
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
 * /api/ is a violation.
 */

interface HeaderObject {
  required?: boolean;
  $ref?: string;
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
  /** answers of routes outside the document, by route */
  outside: Record<string, number>;
  violations: Violation[];
}

const ERROR_SCHEMA = '/components/schemas/ErrorDto';

/** JSON pointer escaping of one path segment (RFC 6901). */
const escape = (segment: string) => segment.replace(/~/g, '~0').replace(/\//g, '~1');

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

  constructor(documents: OpenApiDocument[]) {
    addFormats(this.ajv);
    documents.forEach((document, i) => {
      const key = `doc${i}`;
      this.ajv.addSchema(closeObjects(document) as object, key);
      this.documents.set(document.info.title, { key, document });
    });
  }

  check(recorded: RecordedResponse[]): Report {
    const report: Report = { checked: 0, outside: {}, violations: [] };
    for (const answer of recorded) {
      const problems = this.problemsOf(answer, report);
      if (problems === undefined) continue;
      report.checked++;
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
    if (item === undefined) return this.unrouted(key, answer);
    // Fastify answers HEAD for every GET route: the GET's answer without its body.
    const head = answer.method === 'HEAD';
    const operation = item[head ? 'get' : answer.method.toLowerCase()];
    if (!operation) return [`${answer.method} ${path} is not in the document`];
    const status = String(answer.status);
    const declared = operation.responses[status] ?? operation.responses[`${status[0]}XX`];
    if (!declared) return [`status ${status} is not declared for ${answer.method} ${path}`];
    const pointer = `/paths/${escape(path!)}/${head ? 'get' : answer.method.toLowerCase()}/responses/${status}`;
    return [
      ...this.headerProblems(document, declared, answer),
      ...(head ? [] : this.bodyProblems(key, pointer, declared, answer)),
    ];
  }

  /** An answer no route gave: an error in the spec's shape, with the headers every answer carries. */
  private unrouted(key: string, answer: RecordedResponse): string[] {
    if (answer.status < 400) return [`status ${answer.status} without a route`];
    const problems: string[] = [];
    for (const header of ['x-served-by', 'x-request-id'])
      if (!(header in answer.headers)) problems.push(`header ${header} is missing`);
    return [...problems, ...this.jsonProblems(key, ERROR_SCHEMA, answer)];
  }

  private headerProblems(
    document: OpenApiDocument,
    declared: ResponseObject,
    answer: RecordedResponse,
  ): string[] {
    const problems: string[] = [];
    for (const [name, header] of Object.entries(declared.headers ?? {})) {
      const resolved = header.$ref ? document.components.headers?.[header.$ref.split('/').pop()!] : header;
      if (resolved?.required && !(name.toLowerCase() in answer.headers))
        problems.push(`required header ${name} is missing`);
    }
    return problems;
  }

  private bodyProblems(
    key: string,
    pointer: string,
    declared: ResponseObject,
    answer: RecordedResponse,
  ): string[] {
    const content = declared.content ?? {};
    const empty = answer.body === null ? false : answer.body.length === 0;
    if (Object.keys(content).length === 0) return empty ? [] : ['a body where the document declares none'];
    if (empty) return ['no body where the document declares one'];
    const type = (answer.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (!(type in content))
      return [`content type "${type}" is not declared (${Object.keys(content).join(', ')})`];
    if (answer.body === null || answer.truncated) return [];
    if (type !== 'application/json') return [];
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
    if (validate(body)) return [];
    return (validate.errors ?? []).map((e) => `body${e.instancePath} ${e.message ?? 'is invalid'}`);
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
