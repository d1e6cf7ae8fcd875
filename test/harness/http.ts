import type { KeyObject } from 'node:crypto';
import { signRequest } from '../../libs/site-auth/src';

export interface Reply<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

async function send<T>(url: string, init: RequestInit): Promise<Reply<T>> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: unknown = text;
  if (text && (res.headers.get('content-type') ?? '').includes('json')) body = JSON.parse(text);
  return { status: res.status, headers: res.headers, body: body as T };
}

/** An admin's view of one site's REST API (SPEC §5). */
export class AdminClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: string | undefined,
  ) {}

  as(token: string | undefined): AdminClient {
    return new AdminClient(this.baseUrl, token);
  }

  request<T = any>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Reply<T>> {
    const h: Record<string, string> = { ...headers };
    if (this.token !== undefined) h.authorization = `Bearer ${this.token}`;
    let payload: string | undefined;
    if (body !== undefined) {
      h['content-type'] = 'application/json';
      payload = typeof body === 'string' ? body : JSON.stringify(body);
    }
    return send<T>(`${this.baseUrl}/api/v1${path}`, { method, headers: h, body: payload });
  }

  get<T = any>(path: string, headers?: Record<string, string>) {
    return this.request<T>('GET', path, undefined, headers);
  }
  post<T = any>(path: string, body: unknown, headers?: Record<string, string>) {
    return this.request<T>('POST', path, body, headers);
  }
  patch<T = any>(path: string, body: unknown, headers?: Record<string, string>) {
    return this.request<T>('PATCH', path, body, headers);
  }
  delete<T = any>(path: string, headers?: Record<string, string>) {
    return this.request<T>('DELETE', path, undefined, headers);
  }
}

export interface SignOptions {
  /** sign with this site's key but claim another id */
  claimSite?: string;
  /** sign the call for this site rather than the one it is sent to (SPEC §9: refused) */
  receiver?: string;
  now?: number;
  nonce?: string;
  /** send without the signature headers */
  unsigned?: boolean;
}

/** A site calling another site (`target`), signed with its key for that site (SPEC §9). */
export class SiteCaller {
  constructor(
    readonly target: { id: string; url: string },
    readonly siteId: string,
    private readonly privateKey: KeyObject,
  ) {}

  headersFor(
    method: string,
    path: string,
    body: string | undefined,
    options: SignOptions = {},
  ): Record<string, string> {
    if (options.unsigned) return {};
    const headers = signRequest({
      siteId: this.siteId,
      receiver: options.receiver ?? this.target.id,
      privateKey: this.privateKey,
      method,
      path,
      body,
      now: options.now,
      nonce: options.nonce,
    });
    if (options.claimSite) headers['x-site-id'] = options.claimSite;
    return headers;
  }

  call<T = any>(method: string, path: string, body?: unknown, options: SignOptions = {}): Promise<Reply<T>> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers = this.headersFor(method, path, payload, options);
    if (payload !== undefined) headers['content-type'] = 'application/json';
    return send<T>(`${this.target.url}${path}`, { method, headers, body: payload });
  }
}
