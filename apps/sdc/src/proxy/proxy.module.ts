import { Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { HOP_NONCES, RoutingInterceptor, SITE_ROUTING } from '@dd/admin-api';
import { CacheModule } from '../cache/cache.module';
import { RedisNonceStore } from '../cache/redis-nonce.store';
import { RemoteModule } from '../remote/remote.module';
import { SiteRouter } from './site-router';

/** SPEC §9: which site answers a directory request, and the proxy hop to it. */
@Module({
  imports: [CacheModule, RemoteModule],
  providers: [
    SiteRouter,
    { provide: SITE_ROUTING, useExisting: SiteRouter },
    { provide: HOP_NONCES, useExisting: RedisNonceStore },
    { provide: APP_INTERCEPTOR, useClass: RoutingInterceptor },
  ],
  exports: [SITE_ROUTING],
})
export class ProxyModule {}
