import { ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import type { Cluster } from 'ioredis';
import { Client } from 'pg';
import { clusterSeeds, nodeForKey } from '../../apps/sdc/src/cache/site-redis';
import { freePort } from './cluster-files';
import { redisReachable, withRedis } from './services';

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

/** The binaries a Redis Cluster of the test's own needs that are not on PATH (none: it can run). */
export function missingRedisClusterBinaries(): string[] {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  return ['redis-server', 'redis-cli'].filter((bin) => !dirs.some((dir) => existsSync(join(dir, bin))));
}

/** Resolves whether nothing listens on 127.0.0.1:`port`. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A free port whose cluster bus port (port + 10000) is free too, so below 55535. */
async function clusterPort(taken: number[]): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const port = await freePort();
    if (port < 55535 && !taken.includes(port) && (await portFree(port + 10000))) return port;
  }
  throw new Error('no free port with a free cluster bus port (port + 10000) below 55535');
}

/**
 * A Redis Cluster of the test's own (SPEC §11): `masters` masters, no replicas, no persistence, on
 * loopback ports of a temp dir, its slots spread by `redis-cli --cluster create`.
 */
export class OwnRedisCluster {
  private readonly nodes = new Map<number, { child: ChildProcess; exited: Promise<void> }>();

  private constructor(
    readonly dir: string,
    readonly ports: number[],
  ) {}

  static async start(masters = 3): Promise<OwnRedisCluster> {
    const ports: number[] = [];
    for (let i = 0; i < masters; i++) ports.push(await clusterPort(ports));
    const cluster = new OwnRedisCluster(mkdtempSync(join(tmpdir(), 'dd-redis-cluster-')), ports);
    try {
      await cluster.create();
    } catch (err) {
      await cluster.destroy();
      throw err;
    }
    return cluster;
  }

  /** REDIS_URL of an SDC on this cluster: every master as a seed. */
  get url(): string {
    return `redis-cluster://${this.ports.map((p) => `127.0.0.1:${p}`).join(',')}`;
  }

  /** One node's own URL, for a question to that node alone (CLUSTER INFO). */
  nodeUrl(port: number): string {
    return `redis://127.0.0.1:${port}`;
  }

  /** A cluster client of the test's (it disconnects it). */
  client(): Promise<Cluster> {
    return clusterClient(this.url);
  }

  /** SIGSTOP of the master on `port`: it keeps its connections open and answers nothing. */
  freeze(port: number): void {
    this.node(port).child.kill('SIGSTOP');
  }

  thaw(port: number): void {
    this.node(port).child.kill('SIGCONT');
  }

  /**
   * Stops the master on `port` (SIGTERM) and resolves when it has gone. Without persistence it
   * comes back empty, but as the same node with the same slots (its nodes file is kept).
   */
  async stopNode(port: number): Promise<void> {
    const { child, exited } = this.node(port);
    child.kill('SIGCONT');
    child.kill('SIGTERM');
    await exited;
    this.nodes.delete(port);
  }

  /** Starts the master on `port` again and waits until the cluster is ok there. */
  async startNode(port: number): Promise<void> {
    this.spawnNode(port);
    await until(`redis-server --cluster-enabled on port ${port}`, () => redisReachable(this.nodeUrl(port)));
    await this.untilClusterOk(port);
  }

  async destroy(): Promise<void> {
    for (const { child } of this.nodes.values()) child.kill('SIGKILL');
    await Promise.all([...this.nodes.values()].map((n) => n.exited));
    this.nodes.clear();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private node(port: number): { child: ChildProcess; exited: Promise<void> } {
    const node = this.nodes.get(port);
    if (!node) throw new Error(`no running node of this cluster on port ${port}`);
    return node;
  }

  private spawnNode(port: number): void {
    if (this.nodes.has(port)) throw new Error(`the node on port ${port} is already running`);
    const child = spawn(
      'redis-server',
      [
        ...['--cluster-enabled', 'yes', '--cluster-config-file', join(this.dir, `nodes-${port}.conf`)],
        ...['--port', String(port), '--bind', '127.0.0.1', '--dir', this.dir],
        ...['--save', '', '--appendonly', 'no', '--logfile', join(this.dir, `redis-${port}.log`)],
      ],
      { stdio: 'ignore' },
    );
    this.nodes.set(port, { child, exited: new Promise((resolve) => child.once('exit', () => resolve())) });
  }

  private untilClusterOk(port: number): Promise<void> {
    return until(`cluster_state:ok on port ${port}`, () =>
      withRedis(this.nodeUrl(port), async (r) =>
        String(await r.call('CLUSTER', 'INFO')).includes('cluster_state:ok'),
      ),
    );
  }

  private async create(): Promise<void> {
    for (const port of this.ports) this.spawnNode(port);
    await Promise.all(
      this.ports.map((port) =>
        until(`redis-server --cluster-enabled on port ${port}`, () => redisReachable(this.nodeUrl(port))),
      ),
    );
    const nodes = this.ports.map((p) => `127.0.0.1:${p}`);
    await run('redis-cli', ['--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes'], {
      timeout: 30_000,
    });
    await Promise.all(this.ports.map((port) => this.untilClusterOk(port)));
  }
}

/** A client of the Redis Cluster a `redis-cluster://` URL names, connected (the caller disconnects it). */
async function clusterClient(url: string): Promise<Cluster> {
  const { Cluster } = await import('ioredis');
  const client = new Cluster(clusterSeeds(url)!.nodes, { lazyConnect: true });
  await client.connect().catch((err: unknown) => {
    client.disconnect();
    throw err;
  });
  return client;
}

/**
 * Deletes every key of a site (`{site}:*`) from a Redis Cluster — its Redis lost its data — and
 * leaves the other sites sharing the cluster alone: SCAN on the master that owns the site's slot.
 */
export async function deleteSiteKeys(url: string, siteId: string): Promise<void> {
  const client = await clusterClient(url);
  try {
    const owner = nodeForKey(client, `{${siteId}}:`);
    let cursor = '0';
    do {
      const [next, keys] = await owner.scan(cursor, 'MATCH', `{${siteId}}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await client.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
}

/**
 * The PostgreSQL tools a test of its own primary and replica needs that are not installed (none:
 * it can run), for a suite to skip with a line naming them.
 */
export function missingPostgresBinaries(tools = ['initdb', 'pg_ctl', 'pg_basebackup']): string[] {
  let bin: string;
  try {
    bin = postgresBin();
  } catch {
    return tools;
  }
  return tools.filter((tool) => !existsSync(join(bin, tool)));
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
    const dir = OwnPostgres.ownDir();
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

  /** A temp dir the server's user owns (`nobody` when the tests run as root). */
  private static ownDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'dd-pg-'));
    if (asRoot()) {
      const uid = Number(execFileSync('id', ['-u', UNPRIVILEGED]).toString());
      const gid = Number(execFileSync('id', ['-g', UNPRIVILEGED]).toString());
      chownSync(dir, uid, gid);
    }
    return dir;
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

  /**
   * A streaming replica of `primary` (`pg_basebackup -R`), reading the primary's WAL through
   * `127.0.0.1:sourcePort` — the primary's own port, or a relay the test can cut (an asynchronous
   * replica that stops receiving is what loses the primary's last transactions at a failover).
   */
  static async replicaOf(primary: OwnPostgres, sourcePort: number = primary.port): Promise<OwnPostgres> {
    const replica = new OwnPostgres(OwnPostgres.ownDir(), await freePort());
    try {
      await replica.tool('pg_basebackup', [
        ...['-h', '127.0.0.1', '-p', String(sourcePort), '-U', 'postgres'],
        ...['-D', replica.dataDir, '-R', '-X', 'stream', '--no-sync', '--checkpoint=fast'],
      ]);
      await replica.start();
    } catch (err) {
      rmSync(replica.dir, { recursive: true, force: true });
      throw err;
    }
    return replica;
  }

  /** `pg_ctl promote`: a replica becomes a primary on a new timeline (and takes writes). */
  async promote(): Promise<void> {
    await this.tool('pg_ctl', ['-D', this.dataDir, '-w', 'promote']);
  }

  /** `pg_ctl stop -m immediate`: the server dies as in a crash, nothing flushed or sent on. */
  async kill(): Promise<void> {
    if (!this.running) return;
    await this.tool('pg_ctl', ['-D', this.dataDir, '-m', 'immediate', '-w', 'stop']);
    this.running = false;
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
