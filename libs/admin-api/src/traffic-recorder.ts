import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';

/** Bodies past this size are recorded cut short (and then not checked against a schema). */
const MAX_RECORDED_BODY = 1024 * 1024;

/** One answer as the client got it, for scripts/check-conformance.ts. */
export interface RecordedResponse {
  /** the OpenAPI document's info.title: which app answered */
  app: string;
  site: string;
  method: string;
  /** Fastify's route template (`/api/v1/domains/:name`); null when no route matched (404, a router error) */
  route: string | null;
  url: string;
  status: number;
  headers: Record<string, string>;
  /** the body as sent; null for a stream (the /docs UI's files) */
  body: string | null;
  truncated?: boolean;
  /** a refusal of Node's HTTP layer written straight to the socket (bad request line, 408, 431): no route, no request id */
  clientError?: boolean;
}

/** Appends answers to this process's file in `dir`, one NDJSON line each, synchronously (none lost at exit). */
function appender(dir: string, site: string): (recorded: RecordedResponse) => void {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${site}-${process.pid}.ndjson`);
  return (recorded) => appendFileSync(file, `${JSON.stringify(recorded)}\n`);
}

/**
 * With DD_TRAFFIC_DIR set: how bootstrap.ts's `clientError` handler records the answer it writes to
 * the socket itself (no Fastify hook sees it). Undefined when not recording, so that path costs nothing.
 */
export function clientErrorRecorder(
  dir: string | undefined,
  app: string,
  site: string,
): ((status: number, headers: Record<string, string>, body: string) => void) | undefined {
  if (!dir) return undefined;
  const append = appender(dir, site);
  return (status, headers, body) =>
    append({
      app,
      site,
      method: '-',
      route: null,
      url: '-',
      status,
      headers,
      body,
      clientError: true,
    });
}

/**
 * The contract check of CI (issue 16): with DD_TRAFFIC_DIR set, every response is appended as one
 * NDJSON line to a file of this process, to be held to the committed OpenAPI document afterwards.
 * Off unless asked for: it writes synchronously, in the request's path.
 */
export function recordTraffic(fastify: FastifyInstance, dir: string, app: string, site: string): void {
  const append = appender(dir, site);
  fastify.addHook('onSend', (request, reply, payload, done) => {
    const text =
      payload === null || payload === undefined
        ? ''
        : typeof payload === 'string'
          ? payload
          : Buffer.isBuffer(payload)
            ? payload.toString('utf8')
            : null;
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(reply.getHeaders())) {
      if (value !== undefined)
        headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    }
    append({
      app,
      site,
      method: request.method,
      route: request.routeOptions?.url ?? null,
      url: request.url,
      status: reply.statusCode,
      headers,
      body: text === null ? null : text.slice(0, MAX_RECORDED_BODY),
      ...(text !== null && text.length > MAX_RECORDED_BODY ? { truncated: true } : {}),
    });
    done(null, payload);
  });
}
