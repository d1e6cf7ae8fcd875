import { ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { freePort } from './cluster-files';

const run = promisify(execFile);

/**
 * Stores of a test's own, to stop, restart and freeze (SPEC §5 `store_unavailable`): never the shared
 * PostgreSQL / Redis, which other test files use at the same time. Each lives in a temp dir on a free
 * loopback port and is gone when the test destroys it.
 */

/** Polls until `ready` resolves true; rejects after `timeoutMs` saying what did not come up. */
async function until(what: string, ready: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ready().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what} not up after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A `redis-server` of the test's own, persisting to an append-only file so a restart keeps its data. */
export class OwnRedis {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  private constructor(
    readonly dir: string,
    readonly port: number,
    /** the server this one replicates (`--replicaof`), until promoted */
    private primary: OwnRedis | undefined,
  ) {}

  static async start(): Promise<OwnRedis> {
    const redis = new OwnRedis(mkdtempSync(join(tmpdir(), 'dd-redis-')), await freePort(), undefined);
    await redis.start();
    return redis;
  }

  /** A replica of `primary` (`--replicaof`), started once it has taken the primary's data. */
  static async replicaOf(primary: OwnRedis): Promise<OwnRedis> {
    const redis = new OwnRedis(mkdtempSync(join(tmpdir(), 'dd-redis-')), await freePort(), primary);
    await redis.start();
    await until(`replica on port ${redis.port} in sync`, async () =>
      /master_link_status:up/.test(await redis.command('INFO', 'replication')),
    );
    return redis;
  }

  /** Logical database 0 of this server (it has no other user). */
  get url(): string {
    return `redis://127.0.0.1:${this.port}/0`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the server (again: same port, same data) and waits until it answers PING. */
  async start(): Promise<void> {
    if (this.child) throw new Error('this Redis is already running');
    const child = spawn(
      'redis-server',
      [
        ...['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir],
        ...['--appendonly', 'yes', '--save', '', '--logfile', join(this.dir, 'redis.log')],
        ...(this.primary ? ['--replicaof', '127.0.0.1', String(this.primary.port)] : []),
      ],
      { stdio: 'ignore' },
    );
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    await until(`redis-server on port ${this.port}`, () => this.ping());
  }

  /** A clean stop (SIGTERM: the server flushes its append-only file first); resolves when it has gone. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    child.kill('SIGCONT');
    child.kill('SIGTERM');
    await this.exited;
  }

  /** SIGSTOP: the server keeps its connections open and answers nothing — a frozen store. */
  freeze(): void {
    this.child?.kill('SIGSTOP');
  }

  thaw(): void {
    this.child?.kill('SIGCONT');
  }

  /** SIGKILL: the server dies at once, with whatever it had not sent its replicas yet. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    child.kill('SIGKILL');
    await this.exited;
  }

  /** A replica becomes a primary of its own (`REPLICAOF NO ONE`), as a failover promotes it. */
  async promote(): Promise<void> {
    await this.command('REPLICAOF', 'NO', 'ONE');
    this.primary = undefined;
  }

  /** One command on a connection of its own; the reply as a string. */
  async command(...args: string[]): Promise<string> {
    const { default: Redis } = await import('ioredis');
    const redis = new Redis(this.url, { lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0 });
    try {
      await redis.connect();
      return String(await redis.call(args[0], ...args.slice(1)));
    } finally {
      redis.disconnect();
    }
  }

  async destroy(): Promise<void> {
    if (this.child) {
      this.child.kill('SIGKILL');
      await this.exited;
      this.child = undefined;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async ping(): Promise<boolean> {
    const { default: Redis } = await import('ioredis');
    const redis = new Redis(this.url, {
      lazyConnect: true,
      connectTimeout: 500,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    }).on('error', () => undefined); // not up yet: the promise below says so
    try {
      await redis.connect();
      return (await redis.ping()) === 'PONG';
    } finally {
      redis.disconnect();
    }
  }
}

/** The newest PostgreSQL server binaries installed (Debian's layout), or PG_BIN when set. */
function postgresBin(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) throw new Error(`no PostgreSQL server binaries under ${root} (set PG_BIN)`);
  return join(root, versions[0], 'bin');
}

/**
 * initdb and pg_ctl refuse to run as root: as root, they run as `nobody` (runuser), in a temp dir
 * that user owns; as anyone else, as that user.
 */
const UNPRIVILEGED = 'nobody';
const asRoot = () => process.getuid?.() === 0;

/** A PostgreSQL cluster of the test's own (initdb + pg_ctl), trusting local connections as `postgres`. */
export class OwnPostgres {
  private readonly bin = postgresBin();
  private running = false;

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  static async start(): Promise<OwnPostgres> {
    const dir = mkdtempSync(join(tmpdir(), 'dd-pg-'));
    if (asRoot()) {
      const uid = Number(execFileSync('id', ['-u', UNPRIVILEGED]).toString());
      const gid = Number(execFileSync('id', ['-g', UNPRIVILEGED]).toString());
      chownSync(dir, uid, gid);
    }
    const pg = new OwnPostgres(dir, await freePort());
    try {
      await pg.tool('initdb', [
        ...['-D', pg.dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'],
      ]);
      await pg.start();
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    return pg;
  }

  get dataDir(): string {
    return join(this.dir, 'data');
  }

  /** The URL of a database on this server. */
  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  async createDatabase(name: string): Promise<string> {
    const admin = new Client({ connectionString: this.url() });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE "${name}"`);
    } finally {
      await admin.end();
    }
    return this.url(name);
  }

  /** Starts the server (again: same port, same data) and waits until it accepts connections. */
  async start(): Promise<void> {
    const options = [
      ...['-p', String(this.port), '-k', this.dir, '-c', 'listen_addresses=127.0.0.1'],
      // a test server: durability is not what it is for
      ...['-c', 'fsync=off', '-c', 'full_page_writes=off'],
    ].join(' ');
    await this.tool('pg_ctl', [
      '-D',
      this.dataDir,
      '-l',
      join(this.dir, 'postgres.log'),
      '-w',
      '-o',
      options,
      'start',
    ]);
    this.running = true;
  }

  /** `pg_ctl stop -m fast`: every session is ended (SQLSTATE 57P01), as an operator stopping it does. */
  async stop(): Promise<void> {
    if (!this.running) return;
    await this.tool('pg_ctl', ['-D', this.dataDir, '-m', 'fast', '-w', 'stop']);
    this.running = false;
  }

  /** The server's log, for a failing test's message. */
  get log(): string {
    const file = join(this.dir, 'postgres.log');
    return existsSync(file) ? readFileSync(file, 'utf8') : '';
  }

  async destroy(): Promise<void> {
    if (this.running) {
      await this.tool('pg_ctl', ['-D', this.dataDir, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
      this.running = false;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async tool(name: string, args: string[]): Promise<void> {
    const path = join(this.bin, name);
    const [command, argv] = asRoot() ? ['runuser', ['-u', UNPRIVILEGED, '--', path, ...args]] : [path, args];
    try {
      await run(command, argv, { cwd: this.dir, timeout: 60_000 });
    } catch (err) {
      const { stderr, stdout } = err as { stderr?: string; stdout?: string };
      throw new Error(`${name} ${args.join(' ')} failed: ${stderr || stdout || String(err)}\n${this.log}`, {
        cause: err,
      });
    }
  }
}
