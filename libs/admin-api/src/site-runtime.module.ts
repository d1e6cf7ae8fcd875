import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { DynamicModule, Global, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { LoggerModule } from 'nestjs-pino';
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
 * filter, JSON logs and /metrics.
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
      imports: [
        // The JSON logger only: one line per request is written from Fastify's own hook (bootstrap.ts),
        // as nestjs-pino's pino-http middleware is never reached under NestJS 12's Fastify adapter —
        // so it is mounted on no route: mounted, it would still cost every request a middleware match.
        LoggerModule.forRoot({ pinoHttp: { level: env.logLevel }, forRoutes: [] }),
      ],
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
