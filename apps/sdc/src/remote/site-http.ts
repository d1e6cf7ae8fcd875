import type { KeyObject } from 'node:crypto';
import { Agent as HttpAgent, IncomingHttpHeaders, IncomingMessage, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { signRequest } from '@dd/site-auth';
import { SiteUnreachableError } from './errors';

/** An HTTP answer from another site, whatever its status. */
export interface SiteAnswer {
  status: number;
  headers: Headers;
  /** the JSON value when the answer is JSON, else the text; undefined when empty */
  body: unknown;
  text: string;
}

/** Another site, as the config lists it: its id (which the signature names, SPEC §9) and its URL. */
export interface SiteTarget {
  id: string;
  url: string;
}

const DEFAULT_TIMEOUT_MS = 5000;

/**
 * SPEC §9: every site-to-site call (push, pull, manifest, signal, proxy) signed with this site's key.
 * Only a failure to reach the site throws; any HTTP answer is the caller's to judge.
 *
 * Built on node:http rather than fetch: fetch re-sends a request answered 421 on a new connection
 * (WHATWG Fetch "HTTP-network-or-cache fetch" step 16) with the same nonce, so the peer would refuse
 * the copy as replayed and the proxy would return that 401 instead of trying the next site.
 * Each signed call must reach the wire exactly once.
 */
export class SiteHttp {
  private readonly timeoutMs: number;
  // Keep-alive pools of this site's own (issue 15): a proxied request or a push reuses a warm
  // connection to the site rather than paying a TCP handshake, and no other client's settings
  // (the process-wide global agent) decide that.
  private readonly agents = {
    'http:': new HttpAgent({ keepAlive: true }),
    'https:': new HttpsAgent({ keepAlive: true }),
  };

  constructor(private readonly opts: { siteId: string; privateKey: KeyObject; timeoutMs?: number }) {
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** Closes the pooled connections (at shutdown). */
  close(): void {
    this.agents['http:'].destroy();
    this.agents['https:'].destroy();
  }

  async request(
    target: SiteTarget,
    method: string,
    pathWithQuery: string,
    body?: unknown,
    extraHeaders: Record<string, string> = {},
    timeoutMs = this.timeoutMs,
  ): Promise<SiteAnswer> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const url = siteUrl(target.url, pathWithQuery);
    // A timer of its own, cleared with the answer: `AbortSignal.timeout` costs each call ~60 µs.
    const deadline = new AbortController();
    const timer = setTimeout(
      () => deadline.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')),
      timeoutMs,
    );
    try {
      const res = await this.send(target.id, url, method, payload, extraHeaders, deadline.signal);
      const text = await readText(res);
      const headers = toHeaders(res.headers);
      return { status: res.statusCode ?? 0, headers, body: parseBody(text, headers), text };
    } catch (err) {
      throw new SiteUnreachableError(url, err);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * A signed GET whose body the caller reads as a stream (SPEC §8 change signal). The timeout covers
   * only the wait for the answer's headers; `signal` ends the stream.
   */
  async openStream(
    target: SiteTarget,
    pathWithQuery: string,
    signal: AbortSignal,
    timeoutMs = this.timeoutMs,
  ): Promise<IncomingMessage> {
    const url = siteUrl(target.url, pathWithQuery);
    const connecting = new AbortController();
    const timer = setTimeout(
      () => connecting.abort(new Error(`no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    try {
      const headers = { accept: 'text/event-stream' };
      return await this.send(
        target.id,
        url,
        'GET',
        undefined,
        headers,
        AbortSignal.any([signal, connecting.signal]),
      );
    } catch (err) {
      throw new SiteUnreachableError(url, err);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Resolves with the answer once its headers arrive; redirects are not followed (they would change the signed path). */
  private send(
    receiver: string,
    url: string,
    method: string,
    payload: string | undefined,
    extraHeaders: Record<string, string>,
    signal: AbortSignal,
  ): Promise<IncomingMessage> {
    const target = new URL(url);
    // The path exactly as given: a WHATWG URL would drop `%2E` segments (an entity named `.`) and
    // change what was asked for (and what is signed); the URL gives only protocol, host and port.
    const path = wirePath(url, target);
    const upperMethod = method.toUpperCase();
    const headers: Record<string, string> = {
      ...extraHeaders,
      ...signRequest({
        siteId: this.opts.siteId,
        receiver,
        privateKey: this.opts.privateKey,
        method: upperMethod,
        // the path as it goes on the wire, which is what the receiver verifies
        path,
        body: payload,
      }),
    };
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    const https = target.protocol === 'https:';
    const send = https ? httpsRequest : httpRequest;
    const agent = this.agents[https ? 'https:' : 'http:'];
    return new Promise((resolve, reject) => {
      const req = send(target, { method: upperMethod, path, headers, signal, agent }, resolve);
      req.on('error', reject);
      req.end(payload);
    });
  }
}

/** `url` from its path on: everything after `scheme://authority`, untouched. */
function wirePath(url: string, parsed: URL): string {
  const rest = url.slice(url.indexOf('//') + 2 + parsed.host.length);
  // what a URL would percent-encode (WHATWG's path set), and nothing else: dots and escapes stay as given
  const encoded = rest.replace(/[^\x21-\x7e]|["<>`{}]/gu, (c) => encodeURIComponent(c));
  return encoded.startsWith('/') ? encoded : `/${encoded}`;
}

function siteUrl(baseUrl: string, pathWithQuery: string): string {
  return baseUrl.replace(/\/+$/, '') + pathWithQuery;
}

async function readText(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function toHeaders(raw: IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    for (const one of Array.isArray(value) ? value : [value])
      if (one !== undefined) headers.append(name, one);
  }
  return headers;
}

function parseBody(text: string, headers: Headers): unknown {
  if (text === '') return undefined;
  if (!(headers.get('content-type') ?? '').includes('json')) return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
