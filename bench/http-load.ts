import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { median, percentile } from './stats';

/** USER_HZ of /proc/<pid>/stat: 100 on every Linux platform Node runs on. */
const CLOCK_TICKS_PER_S = 100;

export interface LoadOptions {
  /** connections kept open, each with one request in flight at a time. Default 50 */
  connections?: number;
  /** how long to measure. Default 5000 */
  durationMs?: number;
  /** run this long first without counting (JIT, connection set-up). Default 500 */
  warmupMs?: number;
  method?: string;
  headers?: Record<string, string>;
  /** sent as is, with its content-length; a function makes each request's own (e.g. unique names) */
  body?: string | ((n: number) => string);
  /**
   * The server's process id: the result then says how much CPU it spent per answer (Linux, from
   * /proc) — a figure other load on the machine changes far less than req/s.
   */
  serverPid?: number;
}

export interface LoadResult {
  /** answered requests per second while measuring */
  rps: number;
  /** latency of one request, ms */
  p50: number;
  p99: number;
  requests: number;
  /** answers that were not 2xx, and connections that failed */
  errors: number;
  /** the server's CPU time (user + system) per answer, µs, when `serverPid` was given */
  cpuUsPerRequest?: number;
}

/**
 * Keeps `connections` keep-alive connections busy with the same request for `durationMs` and counts
 * the answers — what `autocannon -c 50 -d 5` does. Written on raw sockets rather than node:http (or
 * fetch): the client runs on the same cores as the app under test, and node:http's own per-request
 * cost would cap the figure well below what a bare NestJS app answers. Understands answers with a
 * Content-Length or chunked bodies.
 */
export async function loadTest(url: string, opts: LoadOptions = {}): Promise<LoadResult> {
  const target = new URL(url);
  const connections = opts.connections ?? 50;
  const durationMs = opts.durationMs ?? 5000;
  const warmupMs = opts.warmupMs ?? 500;
  const { body } = opts;
  const fixed = typeof body === 'function' ? undefined : requestBytes(target, opts, body);
  let sent = 0;
  const request = () => fixed ?? requestBytes(target, opts, (body as (n: number) => string)(sent++));
  const samples: number[] = [];
  let errors = 0;
  let counting = false;
  let running = true;

  const worker = (): Promise<void> =>
    new Promise((resolve) => {
      const open = () => {
        let pending: Buffer = Buffer.alloc(0);
        let sentAt = 0;
        let failed = false;
        const socket = connect(Number(target.port || 80), target.hostname);
        const send = () => {
          sentAt = performance.now();
          socket.write(request());
        };
        socket.setNoDelay(true);
        socket.on('connect', send);
        socket.on('data', (chunk: Buffer) => {
          pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
          for (;;) {
            const answer = parseAnswer(pending);
            if (!answer) return;
            pending = pending.subarray(answer.length);
            if (counting) {
              samples.push(performance.now() - sentAt);
              if (answer.status < 200 || answer.status >= 300) errors++;
            }
            // the server closes (or the run is over): the close handler opens the next connection
            if (!running || answer.close) return void socket.destroy();
            send();
          }
        });
        socket.on('error', () => {
          failed = true;
          if (counting) errors++;
        });
        socket.on('close', () => {
          if (!running) resolve();
          // a refused or reset connection is tried again a little later, not in a tight loop
          else setTimeout(open, failed ? 10 : 0);
        });
      };
      open();
    });

  const workers = Array.from({ length: connections }, worker);
  await sleep(warmupMs);
  const cpuBefore = cpuMsOf(opts.serverPid);
  counting = true;
  const start = performance.now();
  await sleep(durationMs);
  counting = false;
  const elapsed = performance.now() - start;
  const cpuAfter = cpuMsOf(opts.serverPid);
  running = false;
  await Promise.race([Promise.all(workers), sleep(2000)]);
  return {
    rps: (samples.length / elapsed) * 1000,
    p50: median(samples),
    p99: percentile(samples, 99),
    requests: samples.length,
    errors,
    cpuUsPerRequest:
      cpuBefore === undefined || cpuAfter === undefined
        ? undefined
        : ((cpuAfter - cpuBefore) * 1000) / samples.length,
  };
}

/** A process's CPU time so far (user + system), ms; undefined without /proc. */
function cpuMsOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    // the fields after the command name, which is in parentheses and may hold spaces
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / CLOCK_TICKS_PER_S;
  } catch {
    return undefined;
  }
}

/** Sequential requests, one connection: the latency of one request with nothing queued before it. */
export function latencyOf(url: string, opts: Omit<LoadOptions, 'connections'> = {}): Promise<LoadResult> {
  return loadTest(url, { ...opts, connections: 1 });
}

function requestBytes(target: URL, opts: LoadOptions, body: string | undefined): Buffer {
  const headers: Record<string, string> = { host: target.host, ...opts.headers };
  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
  const head =
    `${opts.method ?? 'GET'} ${target.pathname}${target.search} HTTP/1.1\r\n` +
    Object.entries(headers)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('') +
    '\r\n';
  return Buffer.from(head + (body ?? ''));
}

const HEAD_END = Buffer.from('\r\n\r\n');
const CHUNKED_END = Buffer.from('0\r\n\r\n');

/** One whole answer at the start of `data`: its status, its length in bytes, whether the server closes. */
function parseAnswer(data: Buffer): { status: number; length: number; close: boolean } | undefined {
  const headEnd = data.indexOf(HEAD_END);
  if (headEnd < 0) return undefined;
  const head = data.toString('latin1', 0, headEnd).toLowerCase();
  const status = Number(head.slice(9, 12));
  const close = /\r\nconnection: *close/.test(head);
  const bodyStart = headEnd + 4;
  const length = /\r\ncontent-length: *(\d+)/.exec(head);
  if (length) {
    const end = bodyStart + Number(length[1]);
    return data.length >= end ? { status, length: end, close } : undefined;
  }
  if (/\r\ntransfer-encoding: *chunked/.test(head)) {
    const last = data.indexOf(CHUNKED_END, bodyStart);
    return last < 0 ? undefined : { status, length: last + CHUNKED_END.length, close };
  }
  return { status, length: bodyStart, close };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export interface BareReference {
  /** the URL of its one route, `GET /health/live` answering `{"status":"ok"}` */
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/**
 * A bare NestJS 12 + Fastify app with one GET route (bench/bare-app.mjs) as a child process: the
 * reference a site's own trivial GET is compared with, measured in the same run on the same machine.
 */
export function bareReference(): Promise<BareReference> {
  const child = spawn(process.env.DD_APP_NODE || process.execPath, [join(__dirname, 'bare-app.mjs')], {
    env: { ...process.env, NODE_OPTIONS: '', PORT: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`bare reference app not listening after 20 s: ${out}`));
    }, 20_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const port = /listening (\d+)/.exec(out)?.[1];
      if (!port) return;
      clearTimeout(timer);
      resolve({
        url: `http://127.0.0.1:${port}/health/live`,
        pid: child.pid!,
        stop: async () => {
          child.kill('SIGTERM');
          await exited;
        },
      });
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`bare reference app exited: ${out}`));
    });
  });
}
