import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { DynamicModule, Global, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { ADMIN_REGISTRY, AdminAuthGuard } from './auth';
import { ClusterConfigService } from './cluster-config.service';
import { ApiExceptionFilter } from './exception.filter';
import { STORE_FAILURE, StoreFailureCheck } from './errors';
import { HEADER } from './headers';
import { MetricsController, MetricsRegistry } from './metrics';
import { AdminRateLimitGuard } from './rate-limit';
import { readSiteEnv, SITE_ENV, SiteEnv } from './site-env';

/** SPEC §10: a request id that follows a request across a proxy hop; made here if the caller sent none. */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers[HEADER.requestId];
  const id = typeof given === 'string' && given.length > 0 && given.length <= 128 ? given : randomUUID();
  req.headers[HEADER.requestId] = id;
  return id;
}

/**
 * What every site process has, whatever its role: env and cluster config, admin auth, the error
 * filter and /metrics. (Its JSON logger is made before Nest: site-logger.ts.)
 */
@Global()
@Module({})
export class SiteRuntimeModule {
  /** @param isStoreFailure tells the app's store outages apart, so they answer 503 `store_unavailable` */
  static forRoot(
    env: SiteEnv = readSiteEnv(),
    isStoreFailure: StoreFailureCheck = () => false,
  ): DynamicModule {
    return {
      module: SiteRuntimeModule,
      controllers: [MetricsController],
      providers: [
        { provide: SITE_ENV, useValue: env },
        ClusterConfigService,
        { provide: ADMIN_REGISTRY, useExisting: ClusterConfigService },
        MetricsRegistry,
        { provide: APP_GUARD, useClass: AdminAuthGuard },
        // after authentication: requests are counted per admin (SPEC §5)
        { provide: APP_GUARD, useClass: AdminRateLimitGuard },
        { provide: STORE_FAILURE, useValue: isStoreFailure },
        { provide: APP_FILTER, useClass: ApiExceptionFilter },
      ],
      exports: [SITE_ENV, ClusterConfigService, ADMIN_REGISTRY, MetricsRegistry, STORE_FAILURE],
    };
  }
}
