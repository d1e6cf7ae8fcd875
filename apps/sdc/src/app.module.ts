import { DynamicModule, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { BatchController, BatchService, readSiteEnv, SiteEnv, SiteRuntimeModule } from '@dd/admin-api';
import { CacheModule } from './cache/cache.module';
import { isRedisFailure } from './cache/store-failure';
import { DomainsModule } from './domains/domains.module';
import { HealthController } from './ops/health.controller';
import { SdcMetricsModule } from './ops/metrics.module';
import { ProxyModule } from './proxy/proxy.module';
import { SyncModule } from './sync/sync.module';

/**
 * A work site (docs/ARCHITECTURE.md, "SDC modules"): the admin API for the domains it serves from its
 * Redis cache, the submit queue, the sync cycle, the change-signal subscription and the proxy for
 * everything else.
 */
@Module({})
export class SdcModule {
  static forRoot(env: SiteEnv = readSiteEnv()): DynamicModule {
    return {
      module: SdcModule,
      imports: [
        SiteRuntimeModule.forRoot(env, isRedisFailure),
        TerminusModule,
        SdcMetricsModule,
        CacheModule,
        SyncModule,
        DomainsModule,
        ProxyModule,
      ],
      // SPEC §5 `POST /batch`: the directory (domains/) and the routing (proxy/) together, per op.
      controllers: [HealthController, BatchController],
      providers: [BatchService],
    };
  }
}
