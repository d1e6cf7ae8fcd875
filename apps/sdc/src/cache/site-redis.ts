import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import Redis from 'ioredis';
import { EnvError, SITE_ENV, SiteEnv } from '@dd/admin-api';
import { connectionErrorLog } from './connection-errors';

/** SPEC §4: an SDC needs REDIS_URL; a missing one stops start-up naming the variable. */
export function siteRedisUrl(env: SiteEnv): string {
  if (!env.redisUrl) throw new EnvError('environment variable REDIS_URL is required for an SDC');
  return env.redisUrl;
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

/**
 * The site's Redis connection, shared by its stores and closed when the app stops. It fails fast
 * (SPEC §5 `store_unavailable`): a command while Redis is away is refused at once rather than held
 * in an offline queue to run minutes later, after its request was answered 503; one in flight when
 * the connection drops is not sent again; one a frozen Redis does not answer gives up after
 * REDIS_COMMAND_TIMEOUT_MS.
 */
@Injectable()
export class SiteRedis implements OnModuleInit, OnApplicationShutdown {
  readonly client: Redis;

  constructor(@Inject(SITE_ENV) env: SiteEnv) {
    this.client = new Redis(siteRedisUrl(env), {
      ...REDIS_RECONNECT,
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    });
    this.client.on('error', connectionErrorLog(new Logger('SiteRedis'), 'site Redis'));
  }

  /** Without an offline queue nothing may be sent before the connection is ready: connect first. */
  onModuleInit(): Promise<void> {
    return this.client.connect();
  }

  onApplicationShutdown(): void {
    this.client.disconnect();
  }
}
