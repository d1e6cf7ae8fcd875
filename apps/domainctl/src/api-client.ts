import { CliError, EXIT } from './exit-codes';

export type Query = Record<string, string | number | boolean | undefined>;

export interface CallOptions {
  query?: Query;
  body?: unknown;
  headers?: Record<string, string>;
  /** give up after this long (default: wait as long as the server takes) */
  timeoutMs?: number;
}

export interface Answer {
  status: number;
  body: unknown;
  /** absent only in answers made up by tests */
  headers?: Headers;
}

/** An error answer of the API (SPEC §5 `{ statusCode, code, message }`). */
export interface Refusal {
  status: number;
  code: string;
  message: string;
}

/** `site` + `/api/v1` + `path`, with the query's defined values. */
export function apiUrl(site: string, path: string, query: Query = {}): string {
  const url = new URL(`${site.replace(/\/+$/, '')}/api/v1${path}`);
  for (const [key, value] of Object.entries(query))
    if (value !== undefined) url.searchParams.set(key, String(value));
  return url.toString();
}

/** A path from its segments, each percent-encoded (entity names may hold spaces, `?`, `#`…). */
export function pathOf(...segments: string[]): string {
  return segments.map((s) => `/${encodeURIComponent(s)}`).join('');
}

export const domainPath = (domain: string) => pathOf('domains', domain);
export const entitiesPath = (domain: string) => pathOf('domains', domain, 'entities');
export const entityPath = (domain: string, kind: string, name: string) =>
  pathOf('domains', domain, 'entities', kind, name);

/** The API's `{ code, message }` of an error answer; an answer without them is named by its status. */
export function refusalOf(answer: Answer): Refusal {
  const body = answer.body as { code?: unknown; message?: unknown } | null;
  const code = typeof body?.code === 'string' ? body.code : `http_${answer.status}`;
  const message =
    typeof body?.message === 'string' ? body.message : typeof answer.body === 'string' ? answer.body : '';
  return { status: answer.status, code, message };
}

export function describeRefusal(r: Refusal): string {
  return `${r.code} (${r.status})${r.message ? `: ${r.message}` : ''}`;
}

/** Why fetch failed, in a line (`fetch failed` alone says nothing: the cause has the code). */
export function describeConnectionError(site: string, err: unknown, timeoutMs?: number): string {
  if ((err as Error).name === 'TimeoutError') return `no answer from ${site} in ${timeoutMs} ms`;
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const why = cause?.code ?? cause?.message ?? (err as Error).message;
  return `cannot reach ${site}: ${why}`;
}

export class ApiRefusedError extends CliError {
  constructor(readonly refusal: Refusal) {
    super(describeRefusal(refusal), EXIT.refused);
  }
}

/** The admin REST API of one site (SPEC §5), over Node's fetch. */
export class ApiClient {
  constructor(
    readonly site: string,
    private readonly token: string | undefined,
    private readonly extraHeaders: Record<string, string> = {},
  ) {}

  /** Any answer of the API; throws only when the site cannot be reached (exit 2). */
  async call(method: string, path: string, options: CallOptions = {}): Promise<Answer> {
    const headers: Record<string, string> = { ...this.extraHeaders, ...options.headers };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(apiUrl(this.site, path, options.query), {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: options.timeoutMs ? AbortSignal.timeout(options.timeoutMs) : undefined,
      });
    } catch (err) {
      throw new CliError(describeConnectionError(this.site, err, options.timeoutMs), EXIT.usage);
    }
    const text = await res.text();
    return { status: res.status, body: parseBody(text), headers: res.headers };
  }

  /** The body of a 2xx answer; an error answer throws its refusal (exit 1). */
  async ok<T = unknown>(method: string, path: string, options: CallOptions = {}): Promise<T> {
    const answer = await this.call(method, path, options);
    if (answer.status >= 400) throw new ApiRefusedError(refusalOf(answer));
    return answer.body as T;
  }
}

/** SPEC §5 list answer. */
export interface Page<T> {
  items: T[];
  next: string | null;
}

/** Every page of a list, following `next` (SPEC §5 paging). */
export async function* pages<T>(client: ApiClient, path: string, query: Query = {}): AsyncGenerator<Page<T>> {
  let after = query.after;
  do {
    const page = await client.ok<Page<T>>('GET', path, { query: { ...query, after } });
    yield page;
    after = page.next ?? undefined;
  } while (after !== undefined);
}

function parseBody(text: string): unknown {
  if (text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
