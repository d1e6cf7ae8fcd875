import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';

/** An answer read off the wire, body parsed when it is JSON. */
export interface RawReply {
  status: number;
  headers: Record<string, string>;
  body: any;
}

function parseBody(text: string, contentType: string | undefined): unknown {
  return text && (contentType ?? '').includes('json') ? JSON.parse(text) : text;
}

export interface RawOptions {
  /** send `chunkBytes` every `everyMs` instead of all at once */
  everyMs?: number;
  /** default 1: a byte at a time */
  chunkBytes?: number;
  /** keep sending after the answer came (a client that does not read before it has sent all) */
  sendAll?: boolean;
  timeoutMs?: number;
}

/**
 * Sends `text` as is on a fresh TCP connection and reads the first answer: for requests `fetch`
 * cannot send (an unknown method, `Content-Length: abc`, a raw path, a body that drips in). With
 * `everyMs` the text goes in chunks; `sendError` says whether the server cut the connection under
 * a client still sending.
 */
export function rawHttp(
  port: number,
  text: string | Buffer,
  options: RawOptions = {},
): Promise<RawReply & { elapsedMs: number; sendError?: string; sentAll: boolean }> {
  const started = Date.now();
  const timeoutMs = options.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const bytes = Buffer.from(text);
    let received = Buffer.alloc(0);
    let sent = 0;
    let sendError: string | undefined;
    let answered = false;
    let sender: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => finish(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
    const finish = (error?: Error) => {
      clearTimeout(timer);
      clearInterval(sender);
      socket.destroy();
      if (error) return reject(error);
      const split = received.indexOf('\r\n\r\n');
      const [statusLine, ...lines] = received.subarray(0, split).toString('utf8').split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      const body = received.subarray(split + 4, split + 4 + Number(headers['content-length'] ?? Infinity));
      resolve({
        status: Number(statusLine.split(' ')[1]),
        headers,
        body: parseBody(body.toString('utf8'), headers['content-type']),
        elapsedMs: Date.now() - started,
        sendError,
        sentAll: sent === bytes.length,
      });
    };
    const maybeDone = () => {
      if (answered && (!options.sendAll || sent === bytes.length || sendError)) finish();
    };
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const split = received.indexOf('\r\n\r\n');
      if (split < 0) return;
      const length = Number(/content-length: *(\d+)/i.exec(received.subarray(0, split).toString())?.[1]);
      answered = received.length - split - 4 >= length;
      if (answered && !options.sendAll) clearInterval(sender);
      maybeDone();
    });
    socket.on('end', () => {
      answered = received.length > 0;
      if (answered) maybeDone();
      else finish(new Error('connection closed without an answer'));
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      sendError = err.code ?? err.message;
      if (received.length > 0) {
        answered = true;
        finish();
      } else finish(err);
    });
    socket.on('connect', () => {
      if (!options.everyMs) {
        sent = bytes.length;
        socket.write(bytes);
        return;
      }
      const chunk = options.chunkBytes ?? 1;
      sender = setInterval(() => {
        if (sent >= bytes.length || socket.destroyed) return clearInterval(sender);
        socket.write(bytes.subarray(sent, sent + chunk));
        sent = Math.min(bytes.length, sent + chunk);
        maybeDone();
      }, options.everyMs);
    });
  });
}

/** A request through node:http with the path sent exactly as given (fetch would normalize `/%2E`). */
export function httpAsIs(
  url: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<RawReply> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname, port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const flat: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) flat[k] = String(v);
        resolve({
          status: res.statusCode ?? 0,
          headers: flat,
          body: parseBody(text, res.headers['content-type']),
        });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}
