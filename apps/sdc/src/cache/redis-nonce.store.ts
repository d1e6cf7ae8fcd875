import type { SiteRedisClient } from './site-redis';
import type { NonceStore } from '@dd/site-auth';

/** SPEC §9 replay protection shared by every replica of the site: a nonce is new once. */
export class RedisNonceStore implements NonceStore {
  constructor(
    private readonly redis: SiteRedisClient,
    private readonly prefix: string,
  ) {}

  async remember(key: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(`${this.prefix}nonce:${key}`, '1', 'PX', ttlMs, 'NX')) === 'OK';
  }
}
