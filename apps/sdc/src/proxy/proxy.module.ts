import { Global, Module } from '@nestjs/common';
import { HOP_NONCES, SITE_ROUTING } from '@dd/admin-api';
import { CacheModule } from '../cache/cache.module';
import { RedisNonceStore } from '../cache/redis-nonce.store';
import { RemoteModule } from '../remote/remote.module';
import { SiteRouter } from './site-router';

/**
 * SPEC §9: which site answers a directory request, and the proxy hop to it. Global: the controllers
 * that `RoutingInterceptor` guards live in other modules.
 */
@Global()
@Module({
  imports: [CacheModule, RemoteModule],
  providers: [
    SiteRouter,
    { provide: SITE_ROUTING, useExisting: SiteRouter },
    { provide: HOP_NONCES, useExisting: RedisNonceStore },
  ],
  exports: [SITE_ROUTING, HOP_NONCES],
})
export class ProxyModule {}
