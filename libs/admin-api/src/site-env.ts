/** SPEC §4: the environment both apps read once at start; a bad value stops start-up naming the variable. */
export interface SiteEnv {
  siteId: string;
  configFile: string;
  port: number;
  siteKeyFile: string | undefined;
  logLevel: string;
  /** overrides cluster.syncIntervalMs (tests) */
  syncIntervalMs: number | undefined;
  databaseUrl: string | undefined;
  /**
   * MDC: a DomainDB query unanswered this long fails (503) and its connection is dropped — a
   * connection to a primary that died without a word (DATABASE_QUERY_TIMEOUT_MS; 0: never)
   */
  databaseQueryTimeoutMs: number;
  redisUrl: string | undefined;
  /** SDC: entities per snapshot page (SPEC §8 paged snapshots); the protocol's default when unset */
  snapshotPage: number | undefined;
  /** SPEC §5: the whole request — headers and body — must arrive within this (a slow body is cut off too) */
  requestTimeoutMs: number;
  /** DD_TRAFFIC_DIR: record every response there for the conformance check (CI, tests) */
  trafficDir: string | undefined;
}

/** How long a DomainDB query may go unanswered, unless DATABASE_QUERY_TIMEOUT_MS says otherwise. */
export const DEFAULT_DATABASE_QUERY_TIMEOUT_MS = 30_000;

/** How long a request may take to arrive, headers and body, unless REQUEST_TIMEOUT_MS says otherwise. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

export const SITE_ENV = Symbol('SiteEnv');

export class EnvError extends Error {
  override readonly name = 'EnvError';
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new EnvError(`environment variable ${name} is required`);
  return value;
}

/** A whole number from the env (undefined when unset): at least 1, or at least 0 where 0 means "never". */
function wholeNumber(env: NodeJS.ProcessEnv, name: string, { zero = false } = {}): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < (zero ? 0 : 1))
    throw new EnvError(
      zero
        ? `environment variable ${name} must be a whole number of milliseconds, got "${raw}"`
        : `environment variable ${name} must be a positive integer, got "${raw}"`,
    );
  return n;
}

/** pino's levels (SPEC §10 logs), from the most to the least severe; `silent` writes nothing. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function logLevel(env: NodeJS.ProcessEnv): string {
  const level = env.LOG_LEVEL || 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level))
    throw new EnvError(
      `environment variable LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${level}"`,
    );
  return level;
}

export function readSiteEnv(env: NodeJS.ProcessEnv = process.env): SiteEnv {
  return {
    siteId: required(env, 'SITE_ID'),
    configFile: required(env, 'CLUSTER_CONFIG'),
    port: wholeNumber(env, 'PORT') ?? 4000,
    siteKeyFile: env.SITE_KEY_FILE || undefined,
    logLevel: logLevel(env),
    syncIntervalMs: wholeNumber(env, 'SYNC_INTERVAL_MS'),
    databaseUrl: env.DATABASE_URL || undefined,
    databaseQueryTimeoutMs:
      wholeNumber(env, 'DATABASE_QUERY_TIMEOUT_MS', { zero: true }) ?? DEFAULT_DATABASE_QUERY_TIMEOUT_MS,
    redisUrl: env.REDIS_URL || undefined,
    snapshotPage: wholeNumber(env, 'SNAPSHOT_PAGE'),
    requestTimeoutMs: wholeNumber(env, 'REQUEST_TIMEOUT_MS') ?? DEFAULT_REQUEST_TIMEOUT_MS,
    trafficDir: env.DD_TRAFFIC_DIR || undefined,
  };
}
