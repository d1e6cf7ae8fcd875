import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { ConnectionOptions } from 'bullmq';
import Redis, { Cluster, ClusterOptions, Command } from 'ioredis';
import { EnvError, SITE_ENV, SiteEnv } from '@dd/admin-api';
import { connectionErrorLog } from './connection-errors';

/** The site's Redis: one server (a logical database of it) or a Redis Cluster (SPEC §4). */
export type SiteRedisClient = Redis | Cluster;

/** SPEC §4: an SDC needs REDIS_URL; a missing one stops start-up naming the variable. */
export function siteRedisUrl(env: SiteEnv): string {
  if (!env.redisUrl) throw new EnvError('environment variable REDIS_URL is required for an SDC');
  return env.redisUrl;
}

/** The seed nodes (and credentials) of a `redis-cluster://` REDIS_URL. */
export interface ClusterSeeds {
  nodes: Array<{ host: string; port: number }>;
  username?: string;
  password?: string;
}

const CLUSTER_SCHEME = 'redis-cluster://';
const SEED = /^(?:\[([^\]]+)\]|([^:[\]/]+)):(\d{1,5})$/;

/**
 * SPEC §4: `redis-cluster://[user:password@]host:port[,host:port…]` names a Redis Cluster by its
 * seed nodes; undefined for any other URL. A cluster has no logical databases, so a `/db` path
 * (or anything else the form does not allow) stops start-up naming REDIS_URL.
 */
export function clusterSeeds(url: string): ClusterSeeds | undefined {
  if (!url.startsWith(CLUSTER_SCHEME)) return undefined;
  const rest = url.slice(CLUSTER_SCHEME.length);
  const at = rest.lastIndexOf('@');
  const [user, password] = at < 0 ? [] : splitOnce(rest.slice(0, at), ':');
  const hosts = rest.slice(at + 1);
  const refuse = (why: string) =>
    new EnvError(`environment variable REDIS_URL: ${why} (redis-cluster://host:port[,host:port…])`);
  if (/[/?#]/.test(hosts))
    throw refuse('a Redis Cluster has no logical databases and takes no path or options');
  const nodes = hosts.split(',').map((seed) => {
    const m = SEED.exec(seed);
    const port = Number(m?.[3]);
    if (!m || port < 1 || port > 65535) throw refuse(`"${seed}" is not a host:port`);
    return { host: m[1] ?? m[2], port };
  });
  return {
    nodes,
    ...(user ? { username: decodeURIComponent(user) } : {}),
    ...(password !== undefined ? { password: decodeURIComponent(password) } : {}),
  };
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const i = text.indexOf(separator);
  return i < 0 ? [text, undefined] : [text.slice(0, i), text.slice(i + 1)];
}

/** A Redis that takes longer than this to answer a command is taken for frozen: 503, not a hang (SPEC §5). */
export const REDIS_COMMAND_TIMEOUT_MS = 1500;

/**
 * How every connection of the site (its own, BullMQ's) comes back after its Redis went away: a
 * connect gives up after a second, and attempts come at most a second apart, so the site is ready
 * again within about a second of Redis's return (ioredis would back off to 5 s, BullMQ to 20 s).
 */
export const REDIS_RECONNECT: { connectTimeout: number; retryStrategy: (attempt: number) => number } = {
  connectTimeout: 1000,
  retryStrategy: (attempt) => Math.min(100 * attempt, 1000),
};

/** How often a cluster client reads the slots again, so a failover is seen even by a site asked nothing. */
const SLOTS_REFRESH_MS = 5000;

/** The same reconnect behaviour for a Redis Cluster; `nodeOptions` go to each node's connection. */
function clusterOptions(seeds: ClusterSeeds, nodeOptions: ClusterOptions['redisOptions']): ClusterOptions {
  return {
    clusterRetryStrategy: REDIS_RECONNECT.retryStrategy,
    slotsRefreshTimeout: REDIS_RECONNECT.connectTimeout,
    slotsRefreshInterval: SLOTS_REFRESH_MS,
    redisOptions: {
      connectTimeout: REDIS_RECONNECT.connectTimeout,
      username: seeds.username,
      password: seeds.password,
      ...nodeOptions,
    },
  };
}

/**
 * The site's own client, failing fast (see SiteRedis). On a cluster: no offline queue, and a command
 * whose node connection dropped is not sent again elsewhere (`retryDelayOnFailover: 0`) — it may
 * have run, and the CAS script must not run twice; MOVED/ASK/TRYAGAIN/CLUSTERDOWN replies mean it
 * did not run, so ioredis follows them (at most `maxRedirections` times).
 */
function siteClient(url: string): SiteRedisClient {
  const failFast = { maxRetriesPerRequest: 0, commandTimeout: REDIS_COMMAND_TIMEOUT_MS };
  const seeds = clusterSeeds(url);
  if (!seeds)
    return new Redis(url, { ...REDIS_RECONNECT, lazyConnect: true, enableOfflineQueue: false, ...failFast });
  return new Cluster(seeds.nodes, {
    ...clusterOptions(seeds, failFast),
    lazyConnect: true,
    enableOfflineQueue: false,
    retryDelayOnFailover: 0,
  });
}

/**
 * The node that owns `key`'s slot, for a command that names no key but must reach the site's data
 * (SCAN, WAIT): the client itself on one server; on a cluster, the master that ioredis routes the
 * key to now. Fails as a store outage when the cluster knows no live master for that slot.
 */
export function nodeForKey(client: SiteRedisClient, key: string): Redis {
  if (!(client instanceof Cluster)) return client;
  const slot = keySlot(key);
  const owner = client.slots[slot]?.[0];
  const node = client.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === owner);
  if (node) return node;
  // its master went away (a failover?): ask the cluster again, so a next call finds the new one
  if (client.status === 'ready') client.refreshSlotsCache();
  throw new NoNodeForSlotError(slot);
}

/** The cluster slot of a key (its hash tag's), as ioredis computes it to route a command. */
export function keySlot(key: string): number {
  return new Command('exists', [key]).getSlot() as number;
}

/** No master of the Redis Cluster is known for a slot (not connected yet, or a failover under way). */
export class NoNodeForSlotError extends Error {
  override readonly name = 'NoNodeForSlotError';
  constructor(slot: number) {
    super(`no master of the Redis Cluster is known for slot ${slot}`);
  }
}

/**
 * The site's Redis connection, shared by its stores and closed when the app stops. It fails fast
 * (SPEC §5 `store_unavailable`): a command while Redis is away is refused at once rather than held
 * in an offline queue to run minutes later, after its request was answered 503; one in flight when
 * the connection drops is not sent again; one a frozen Redis does not answer gives up after
 * REDIS_COMMAND_TIMEOUT_MS. It also owns BullMQ's shared connection to a Redis Cluster.
 */
@Injectable()
export class SiteRedis implements OnModuleInit, OnApplicationShutdown {
  readonly client: SiteRedisClient;
  private readonly url: string;
  private bull: Cluster | undefined;
  private readonly logger = new Logger('SiteRedis');

  constructor(@Inject(SITE_ENV) env: SiteEnv) {
    this.url = siteRedisUrl(env);
    this.client = siteClient(this.url);
    this.client.on('error', connectionErrorLog(this.logger, 'site Redis'));
  }

  /**
   * BullMQ's connection: options on one server (BullMQ opens its own connections from them); on a
   * cluster, one Cluster client it shares (and duplicates for its workers), which BullMQ leaves
   * open, so this closes it. BullMQ's blocking connections need `maxRetriesPerRequest: null`.
   */
  bullConnection(): ConnectionOptions {
    const seeds = clusterSeeds(this.url);
    if (!seeds) return { url: this.url, ...REDIS_RECONNECT };
    if (!this.bull) {
      this.bull = new Cluster(seeds.nodes, clusterOptions(seeds, { maxRetriesPerRequest: null }));
      // BullMQ listens while it uses it; without a listener ioredis would print the error as text
      this.bull.on('error', connectionErrorLog(this.logger, 'sync queue Redis Cluster'));
    }
    return this.bull;
  }

  /** Without an offline queue nothing may be sent before the connection is ready: connect first. */
  onModuleInit(): Promise<void> {
    return this.client.connect();
  }

  onApplicationShutdown(): void {
    this.client.disconnect();
    this.bull?.disconnect();
  }
}
