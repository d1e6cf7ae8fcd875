import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/**
 * SPEC §12: test databases come from TEST_DATABASE_URL / TEST_REDIS_URL when set, else from local
 * servers on their default ports when reachable, else from testcontainers (needs a Docker engine).
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

async function redisReachable(url: string): Promise<boolean> {
  const { default: Redis } = await import('ioredis');
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1500,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
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

/** A URL to a Redis server (logical database 0; callers pick their own database). */
export function redisServerUrl(): Promise<string> {
  redisServer ??= (async () => {
    if (process.env.TEST_REDIS_URL) return process.env.TEST_REDIS_URL;
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

async function withRedis<T>(url: string, work: (redis: import('ioredis').Redis) => Promise<T>): Promise<T> {
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
 * gets its own key space), empty. Held by a lock key in database 0 that expires after an hour, so
 * a crashed run frees its databases by itself.
 */
export async function createTestRedisDb(label: string): Promise<TestRedisDb> {
  const server = await redisServerUrl();
  const owner = `${label} ${randomBytes(6).toString('hex')}`;
  const db = await withRedis(redisDbUrl(server, 0), async (redis) => {
    for (let n = 1; n <= REDIS_DBS; n++) {
      if ((await redis.set(redisDbLock(n), owner, 'EX', 3600, 'NX')) === 'OK') return n;
    }
    const holders = await redis.mget(...Array.from({ length: REDIS_DBS }, (_, i) => redisDbLock(i + 1)));
    throw new Error(`no free Redis database on ${server}; held by: ${holders.join(', ')}`);
  });
  const url = redisDbUrl(server, db);
  const flush = () => withRedis(url, async (redis) => void (await redis.flushdb()));
  await flush();
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
        await withRedis(lock, (redis) =>
          redis.eval(
            `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`,
            1,
            redisDbLock(db),
            owner,
          ),
        );
      })()),
  };
}
