import { Module } from '@nestjs/common';
import { SITE_ENV, SiteEnv } from '@dd/admin-api';
import { RedisNonceStore } from './redis-nonce.store';
import { SiteCacheStore } from './site-cache.store';
import { SiteRedis } from './site-redis';

/** The site's Redis: the cache + submit queue store and the replay-protection nonces (SPEC §6, §9). */
@Module({
  providers: [
    SiteRedis,
    {
      provide: SiteCacheStore,
      inject: [SiteRedis, SITE_ENV],
      useFactory: (redis: SiteRedis, env: SiteEnv) => new SiteCacheStore(redis.client, env.siteId),
    },
    {
      provide: RedisNonceStore,
      inject: [SiteRedis, SiteCacheStore],
      useFactory: (redis: SiteRedis, store: SiteCacheStore) =>
        new RedisNonceStore(redis.client, store.keys.prefix),
    },
  ],
  exports: [SiteRedis, SiteCacheStore, RedisNonceStore],
})
export class CacheModule {}
