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
