import type { KeyObject } from 'node:crypto';
import { createServer, IncomingHttpHeaders, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MemoryNonceStore, SiteVerification, verifySiteRequest } from '@dd/site-auth';
import type { SiteTarget } from './site-http';

/** Test helpers: the far side of a site-to-site call, on loopback. Not for production code. */

export interface ReceivedCall {
  method: string;
  /** path + query as it arrived */
  path: string;
  headers: IncomingHttpHeaders;
  /** the body's bytes as text */
  raw: string;
  /** SPEC §9: the signature checked as the MDC's guard checks it */
  verification: SiteVerification;
}

export type Responder = (call: ReceivedCall, res: ServerResponse) => void;

export function sendJson(res: ServerResponse, status: number, body: unknown, headers = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}

/** A node:http server that verifies every call's site signature as site `id`, then hands it to `respond`. */
export class FarSite {
  readonly calls: ReceivedCall[] = [];
  /** TCP connections accepted so far (a keep-alive client opens one for many calls) */
  connectionCount = 0;
  port = 0;
  private server?: Server;
  private readonly nonces = new MemoryNonceStore();

  constructor(
    private readonly publicKeys: Record<string, KeyObject>,
    private readonly respond: Responder,
    readonly id = 'mdc',
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** where a SiteHttp sends its calls for this site */
  get target(): SiteTarget {
    return { id: this.id, url: this.url };
  }

  /** Listens on `port`, or on a free one the first time; again on the same port after close(). */
  async listen(port = this.port): Promise<this> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        void verifySiteRequest({
          receiver: this.id,
          headers: req.headers,
          method: req.method ?? '',
          path: req.url ?? '',
          body,
          publicKeysOf: (site) => (this.publicKeys[site] ? [this.publicKeys[site]] : undefined),
          nonces: this.nonces,
        }).then((verification) => {
          const call = {
            method: req.method ?? '',
            path: req.url ?? '',
            headers: req.headers,
            raw: body.toString(),
            verification,
          };
          this.calls.push(call);
          this.respond(call, res);
        });
      });
    });
    server.on('connection', () => this.connectionCount++);
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this;
  }

  /** Stops at once, cutting open connections (an SSE stream included), as a killed process would. */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** A loopback port that nothing listens on. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
