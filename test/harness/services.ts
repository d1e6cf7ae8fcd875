import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { freePort } from './cluster-files';

/**
 * SPEC §12: test databases come from TEST_DATABASE_URL / TEST_REDIS_URL when set, else from local
 * servers (PostgreSQL on its default port; for Redis a redis-server of the test process's own when
 * the binary is installed, else the one on 6379), else from testcontainers (needs a Docker engine).
 * Tests never destroy data they did not create.
 */
const LOCAL_POSTGRES = 'postgres://postgres@127.0.0.1:5432/postgres';
const LOCAL_REDIS = 'redis://127.0.0.1:6379';

let postgresServer: Promise<string> | undefined;

async function reachable(url: string): Promise<boolean> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 1500 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function startPostgresContainer(): Promise<string> {
  const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
  const container = await new PostgreSqlContainer('postgres:16-alpine').withUsername('postgres').start();
  return container.getConnectionUri();
}

/** A URL to a PostgreSQL server the tests may create databases on. */
export function postgresServerUrl(): Promise<string> {
  postgresServer ??= (async () => {
    if (process.env.TEST_DATABASE_URL) return process.env.TEST_DATABASE_URL;
    if (await reachable(LOCAL_POSTGRES)) return LOCAL_POSTGRES;
    return startPostgresContainer();
  })();
  return postgresServer;
}

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** A fresh, empty database of its own for one test file (SPEC §12: files never see each other's data). */
export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const server = new URL(await postgresServerUrl());
  const name = `dd_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: server.toString() });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const url = new URL(server.toString());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: async () => {
      const c = new Client({ connectionString: server.toString() });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await c.end();
    },
  };
}

let redisServer: Promise<string> | undefined;

async function startRedisContainer(): Promise<string> {
  const { RedisContainer } = await import('@testcontainers/redis');
  const container = await new RedisContainer('redis:7-alpine').start();
  return container.getConnectionUrl();
}

export async function redisReachable(url: string): Promise<boolean> {
  const { default: Redis } = await import('ioredis');
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1500,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  }).on('error', () => undefined); // a refused connect is the answer, not an unhandled error event
  try {
    await redis.connect();
    await redis.ping();
    return true;
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

function redisServerInstalled(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * Runs redis-server ($2: port, $3: its directory) for as long as process $1 lives, then stops it and
 * removes its directory and $4 (the registry file): a killed test run leaves no server behind.
 */
const REDIS_WATCHDOG = `
owner=$1 port=$2 dir=$3 registry=$4
redis-server --save "" --appendonly no --port "$port" --bind 127.0.0.1 --dir "$dir" >"$dir/redis.log" 2>&1 &
redis=$!
trap 'kill $redis 2>/dev/null; wait $redis; rm -rf "$dir" "$registry"' EXIT
trap 'exit 0' INT TERM HUP
while kill -0 "$owner" 2>/dev/null && kill -0 "$redis" 2>/dev/null; do sleep 1; done
`;

/**
 * Where this process notes the redis-server it started. Jest gives each test file a fresh module
 * registry, so a module variable would start a server per file; the note lets every test file of
 * one jest worker process share one server.
 */
const ownRedisRegistry = (owner: number) => join(tmpdir(), `dd-test-redis-${owner}.json`);

interface OwnRedis {
  url: string;
  dir: string;
}

/** The server this process noted, if it still runs: the same directory proves it is that server. */
async function notedRedisServer(owner: number): Promise<string | undefined> {
  let noted: OwnRedis;
  try {
    noted = JSON.parse(readFileSync(ownRedisRegistry(owner), 'utf8')) as OwnRedis;
  } catch {
    return undefined;
  }
  if (!(await redisReachable(noted.url))) return undefined;
  const dir = await withRedis(noted.url, (redis) => redis.config('GET', 'dir')).catch(() => []);
  return dir[1] === noted.dir ? noted.url : undefined;
}

async function waitForRedis(url: string, timeoutMs: number): Promise<boolean> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline;) {
    if (await redisReachable(url)) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

/**
 * SPEC §12: a redis-server of the test process's own (`owner`), on a free loopback port, without
 * persistence, in a temporary directory; it stops when the owner ends. Used by every test file of
 * that process.
 */
export async function ownRedisServer(owner = process.pid): Promise<string> {
  const noted = await notedRedisServer(owner);
  if (noted) return noted;
  const registry = ownRedisRegistry(owner);
  let failure = '';
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await freePort();
    // real path: it is how the server reports its directory (CONFIG GET dir), which identifies it
    const dir = realpathSync(mkdtempSync(join(tmpdir(), 'dd-test-redis-')));
    const url = `redis://127.0.0.1:${port}`;
    const args = [String(owner), String(port), dir, registry];
    const watchdog = spawn('sh', ['-c', REDIS_WATCHDOG, 'dd-test-redis', ...args], { stdio: 'ignore' });
    watchdog.unref();
    if (await waitForRedis(url, 5000)) {
      writeFileSync(registry, JSON.stringify({ url, dir } satisfies OwnRedis));
      return url;
    }
    // another process took the port first, most likely: stop this one before trying the next port
    failure = readLog(join(dir, 'redis.log'));
    if (watchdog.exitCode === null && watchdog.signalCode === null) {
      const exited = once(watchdog, 'exit');
      watchdog.kill();
      await exited;
    }
  }
  throw new Error(`could not start a redis-server for the tests: ${failure}`);
}

function readLog(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-5).join('\n');
  } catch {
    return `(no log at ${file})`;
  }
}

/**
 * A URL to a Redis server (logical database 0; callers pick their own database). SPEC §12:
 * TEST_REDIS_URL; else a redis-server of this process's own when the binary is installed (the tests
 * never touch a server someone else runs); else the local server on 6379; else testcontainers.
 */
export function redisServerUrl(): Promise<string> {
  redisServer ??= (async () => {
    if (process.env.TEST_REDIS_URL) return process.env.TEST_REDIS_URL;
    if (redisServerInstalled()) return ownRedisServer();
    if (await redisReachable(LOCAL_REDIS)) return LOCAL_REDIS;
    return startRedisContainer();
  })();
  return redisServer;
}

export interface TestRedisDb {
  /** `redis://host:port/<db>` — the SDC keeps everything in that logical database (SPEC §4) */
  url: string;
  db: number;
  /** FLUSHDB on this database (e.g. a site's Redis losing its data while the site runs) */
  flush(): Promise<void>;
  /** flushes the database and frees it for the next caller */
  release(): Promise<void>;
}

const REDIS_DBS = 15;
const redisDbLock = (db: number) => `dd:test:redis-db:${db}`;
const UNLOCK = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export async function withRedis<T>(
  url: string,
  work: (redis: import('ioredis').Redis) => Promise<T>,
): Promise<T> {
  const { default: Redis } = await import('ioredis');
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    return await work(redis);
  } finally {
    redis.disconnect();
  }
}

function redisDbUrl(server: string, db: number): string {
  const url = new URL(server);
  url.pathname = `/${db}`;
  return url.toString();
}

/**
 * A logical database 1..15 of the test Redis server for one caller alone (SPEC §12: each test file
 * gets its own key space). Held by a lock key in database 0 that expires after an hour, so a crashed
 * run frees its databases by itself; taken only when it is empty, so a test never destroys data it
 * did not create (on a server it did not start, a database left with data is somebody's).
 */
export async function createTestRedisDb(label: string): Promise<TestRedisDb> {
  const server = await redisServerUrl();
  const owner = `${label} ${randomBytes(6).toString('hex')}`;
  const db = await withRedis(redisDbUrl(server, 0), async (redis) => {
    const skipped: string[] = [];
    for (let n = 1; n <= REDIS_DBS; n++) {
      const lock = redisDbLock(n);
      if ((await redis.set(lock, owner, 'EX', 3600, 'NX')) !== 'OK') {
        skipped.push(`${n} held by ${await redis.get(lock)}`);
        continue;
      }
      await redis.select(n);
      const keys = await redis.dbsize();
      await redis.select(0);
      if (keys === 0) return n;
      skipped.push(`${n} not empty (${keys} keys)`);
      await redis.eval(UNLOCK, 1, lock, owner);
    }
    throw new Error(`no free empty Redis database on ${server}: ${skipped.join('; ')}`);
  });
  const url = redisDbUrl(server, db);
  const flush = () => withRedis(url, async (redis) => void (await redis.flushdb()));
  let released: Promise<void> | undefined;
  return {
    url,
    db,
    flush,
    release: () =>
      (released ??= (async () => {
        // only while the lock is ours: after an expiry another caller may hold this database
        const lock = redisDbUrl(server, 0);
        if ((await withRedis(lock, (redis) => redis.get(redisDbLock(db)))) !== owner) return;
        await flush();
        await withRedis(lock, (redis) => redis.eval(UNLOCK, 1, redisDbLock(db), owner));
      })()),
  };
}
