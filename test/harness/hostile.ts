import type { ErrorCode } from '../../libs/admin-api/src/errors';
import type { AdminClient } from './http';

/** An answer as `fetch` (Headers) or a raw socket (a plain object) read it. */
interface Answer {
  status: number;
  headers: Headers | Record<string, string>;
  body: unknown;
}

function header(answer: Answer, name: string): string | undefined {
  return answer.headers instanceof Headers ? (answer.headers.get(name) ?? undefined) : answer.headers[name];
}

/** SPEC §5: `{ statusCode, code, message }` with the status it names, from the site named. */
export function expectApiError(answer: Answer, status: number, code: ErrorCode, servedBy: string): void {
  expect({ status: answer.status, body: answer.body, servedBy: header(answer, 'x-served-by') }).toEqual({
    status,
    body: expect.objectContaining({ statusCode: status, code, message: expect.any(String) }),
    servedBy,
  });
}

/** A request whose body is sent as written, with the content type given (AdminClient always sends JSON). */
export async function sendAsIs(
  client: AdminClient,
  method: string,
  path: string,
  body: string,
  contentType = 'application/json',
): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await fetch(`${client.baseUrl}/api/v1${path}`, {
    method,
    headers: { authorization: 'Bearer ops-token', 'content-type': contentType },
    body,
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

/** JSON text of `levels` objects nested in each other (`{"a":…{}…}`). */
export function nestedObjects(levels: number): string {
  return '{"a":'.repeat(levels - 1) + '{}' + '}'.repeat(levels - 1);
}

/** An `after` cursor this API never gave out, carrying `key`. */
export function forgedCursor(key: string[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** Keys that name members of Object.prototype: data like any other in settings and attributes. */
export const PROTOTYPE_KEYS = ['constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf'];

/** Bodies carrying a `__proto__` key, plainly and escaped, at the top and nested. */
export const PROTO_KEY_JSON = [
  '{"__proto__":{"x":1}}',
  '{"a":{"__proto__":{"x":1}}}',
  '{"\\u005f_proto__":1}',
];

/** Three 63-character labels under `parent` and a fourth that makes the name 253 characters. */
export function longestDomainUnder(parent: string): string[] {
  const labels = ['x', 'y', 'z'].map((c) => c.repeat(63));
  const first = 'w'.repeat(253 - labels.length * 64 - parent.length - 1);
  const names = [`${labels[2]}.${parent}`, `${labels[1]}.${labels[2]}.${parent}`];
  names.push(`${labels[0]}.${names[1]}`, `${first}.${labels[0]}.${names[1]}`);
  return names;
}

/** A raw HTTP/1.1 request head (no body), `connection: close`. */
export function rawHead(method: string, path: string, headers: Record<string, string> = {}): string {
  const lines = Object.entries({ host: 'x', ...headers, connection: 'close' }).map(([k, v]) => `${k}: ${v}`);
  return `${method} ${path} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`;
}
