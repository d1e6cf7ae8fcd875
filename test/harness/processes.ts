import { ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { SiteLogCheck } from './log-lines';

const ROOT = join(__dirname, '..', '..');
export const MDC_MAIN = join(ROOT, 'dist', 'apps', 'mdc', 'src', 'main.js');
export const SDC_MAIN = join(ROOT, 'dist', 'apps', 'sdc', 'src', 'main.js');
/**
 * An SDC runs with its heap capped as deployed (package.json `start:sdc`, docker-compose
 * `NODE_OPTIONS`; `DD_SDC_NODE_ARGS` overrides): its live set is bounded (a snapshot page, a pulled page), and without a cap V8
 * lets garbage grow the RSS far past it before collecting (SPEC §8: RSS < 256 MiB loading 1M entities).
 */
export const SDC_NODE_ARGS = (
  process.env.DD_SDC_NODE_ARGS ?? '--max-old-space-size=128 --max-semi-space-size=16'
)
  .split(' ')
  .filter(Boolean);

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A site as an operator runs it: `node dist/...` as a child process (built by `npm test` first). */
export class SiteProcess {
  readonly output: string[] = [];
  readonly exited: Promise<ExitInfo>;
  /** resolves once the process has exited and its output has all been read */
  readonly closed: Promise<void>;
  private readonly child: ChildProcess;
  /** SPEC §10: every line of its output is JSON naming the site — checked as it arrives, per stream */
  private readonly checks: { stdout: SiteLogCheck; stderr: SiteLogCheck };
  private summarized = false;
  /** the port this process is to listen on */
  private readonly port: number | undefined;
  private listened = false;

  private constructor(
    readonly name: string,
    main: string,
    env: Record<string, string>,
    readonly url: string,
  ) {
    this.port = env.PORT ? Number(env.PORT) : undefined;
    this.checks = { stdout: new SiteLogCheck(env.SITE_ID), stderr: new SiteLogCheck(env.SITE_ID) };
    // The apps run on this machine's Node even when jest runs on Node 24 (scripts/jest.cjs).
    const { NODE_OPTIONS: _jestOnly, ...inherited } = process.env;
    const args = main === SDC_MAIN ? [...SDC_NODE_ARGS, main] : [main];
    this.child = spawn(process.env.DD_APP_NODE || process.execPath, args, {
      env: { ...inherited, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of ['stdout', 'stderr'] as const) {
      const check = this.checks[stream];
      this.child[stream]!.setEncoding('utf8')
        .on('data', (text: string) => {
          this.output.push(text);
          check.feed(text);
        })
        .on('end', () => check.end());
    }
    this.exited = new Promise((resolve) =>
      this.child.on('exit', (code, signal) => resolve({ code, signal })),
    );
    this.closed = new Promise((resolve) => this.child.on('close', () => resolve()));
  }

  static spawn(name: string, main: string, env: Record<string, string>): SiteProcess {
    return new SiteProcess(name, main, env, `http://127.0.0.1:${env.PORT}`);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get log(): string {
    return this.output.join('');
  }

  /**
   * This process holds the listening socket of its port. Until it does, a 200 on that port is
   * another process's: a site started on a port someone holds fails to listen while the holder
   * answers (CI once saw an SDC's admin calls answered by its own cluster's MDC). Where there is no
   * Linux `/proc` to ask, any answer counts.
   */
  get listening(): boolean {
    if (!this.listened && this.port !== undefined && this.child.pid !== undefined)
      this.listened = holdsListener(this.child.pid, this.port) !== false;
    return this.listened || this.port === undefined;
  }

  /** Resolves when `path` answers 200; rejects with the process's output if it exits or times out. */
  async waitReady(path = '/health/ready', timeoutMs = 20_000): Promise<this> {
    await waitReady(this, path, undefined, timeoutMs);
    return this;
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<ExitInfo> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }

  /**
   * SIGTERM, then SIGKILL if it has not gone in 5 s; then the check of its whole output (SPEC §10
   * JSON lines with `site`): rejects naming the lines that are not, after the process has gone.
   */
  async stop(): Promise<ExitInfo> {
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    const info = await this.kill('SIGTERM');
    clearTimeout(timer);
    await this.closed;
    this.checkLogs();
    return info;
  }

  /**
   * Throws if any line it wrote so far is not a JSON object naming the site (SPEC §10). With
   * `DD_LOG_SUMMARY=<file>`, appends its counts there as a JSON line (for a report across test files).
   */
  checkLogs(): void {
    const { stdout, stderr } = this.checks;
    const lines = stdout.lines + stderr.lines;
    const bad = stdout.badCount + stderr.badCount;
    if (process.env.DD_LOG_SUMMARY && !this.summarized)
      appendFileSync(process.env.DD_LOG_SUMMARY, `${JSON.stringify({ process: this.name, lines, bad })}\n`);
    this.summarized = true;
    if (bad > 0)
      throw new Error(
        `${this.name} wrote ${bad} of ${lines} lines that are not JSON naming the site (SPEC §10):\n` +
          [...stdout.bad, ...stderr.bad.map((line) => `(stderr) ${line}`)].join('\n'),
      );
  }
}

/**
 * Linux: whether process `pid` holds a socket listening on `port` — the socket's inode, from
 * `/proc/net/tcp{,6}`, among the process's open files; `undefined` where `/proc` cannot tell.
 */
export function holdsListener(pid: number, port: number): boolean | undefined {
  const inodes = new Set<string>();
  let readable = false;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    readable = true;
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10 || fields[3] !== '0A') continue; // 0A: LISTEN
      if (parseInt(fields[1].split(':')[1], 16) === port) inodes.add(fields[9]);
    }
  }
  if (!readable) return undefined;
  if (inodes.size === 0) return false;
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false; // gone, or not ours to read: not (yet) listening as far as anyone can tell
  }
  for (const fd of fds) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (target.startsWith('socket:[') && inodes.has(target.slice(8, -1))) return true;
    } catch {
      // closed since the listing
    }
  }
  return false;
}

/**
 * Resolves when `path` answers 200 — or, while `path` answers 404, `fallback` does; rejects with the
 * process's output if it exits or is not ready in time.
 */
export async function waitReady(
  proc: SiteProcess,
  path: string,
  fallback: string | undefined,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited: ExitInfo | undefined;
  void proc.exited.then((e) => (exited = e));
  const status = (p: string) =>
    fetch(`${proc.url}${p}`).then(
      (res) => res.arrayBuffer().then(() => res.status),
      () => 0,
    );
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${proc.name} exited (${JSON.stringify(exited)}) before ready:\n${proc.log}`);
    const answer = await status(path);
    // a 200 before the process holds its port is another process's, on a port this one could not take
    if (answer === 200 && proc.listening) return;
    if (answer === 404 && fallback && (await status(fallback)) === 200 && proc.listening) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${proc.name} not ready after ${timeoutMs} ms:\n${proc.log}`);
}
