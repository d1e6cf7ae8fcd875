import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import { EnvError, SITE_ENV, SiteEnv } from '@dd/admin-api';

/** SPEC §4: an SDC needs REDIS_URL; a missing one stops start-up naming the variable. */
export function siteRedisUrl(env: SiteEnv): string {
  if (!env.redisUrl) throw new EnvError('environment variable REDIS_URL is required for an SDC');
  return env.redisUrl;
}

/** The site's Redis connection, shared by its stores and closed when the app stops. */
@Injectable()
export class SiteRedis implements OnApplicationShutdown {
  readonly client: Redis;

  constructor(@Inject(SITE_ENV) env: SiteEnv) {
    this.client = new Redis(siteRedisUrl(env), { maxRetriesPerRequest: 2 });
  }

  onApplicationShutdown(): void {
    this.client.disconnect();
  }
}
