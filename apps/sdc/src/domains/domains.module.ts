import { Module } from '@nestjs/common';
import {
  ClusterConfigService,
  DIRECTORY_SERVICE,
  DirectoryController,
  SITE_ENV,
  SiteEnv,
} from '@dd/admin-api';
import { CacheModule } from '../cache/cache.module';
import { SdcMetrics } from '../ops/sdc.metrics';
import { SiteCacheStore } from '../cache/site-cache.store';
import { SyncModule } from '../sync/sync.module';
import { LocalWrites } from './local-writes';
import { SdcDirectoryService } from './sdc-directory.service';

/** SPEC §5, §6: the domain and entity routes over the site's cache, and the write path into its queue. */
@Module({
  imports: [CacheModule, SyncModule],
  controllers: [DirectoryController],
  providers: [
    {
      provide: LocalWrites,
      inject: [SiteCacheStore, SITE_ENV, ClusterConfigService, SdcMetrics],
      useFactory: (store: SiteCacheStore, env: SiteEnv, config: ClusterConfigService, metrics: SdcMetrics) =>
        new LocalWrites(
          store,
          env.siteId,
          () => config.current.masterDomain,
          () => config.current.cluster.submitQueueCapacity,
          {
            durability: () => ({
              replicas: config.current.cluster.redisWaitReplicas,
              timeoutMs: config.current.cluster.redisWaitTimeoutMs,
            }),
            onUnconfirmed: (writes) => metrics.unconfirmedWrites.inc(writes),
          },
        ),
    },
    { provide: DIRECTORY_SERVICE, useClass: SdcDirectoryService },
  ],
  exports: [DIRECTORY_SERVICE],
})
export class DomainsModule {}
