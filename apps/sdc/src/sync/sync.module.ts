import { BullModule } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import { ClusterConfigService, SITE_ENV, SiteEnv } from '@dd/admin-api';
import { CacheModule } from '../cache/cache.module';
import { CacheKeys } from '../cache/cache-keys';
import { SiteCacheStore } from '../cache/site-cache.store';
import { SiteRedis } from '../cache/site-redis';
import { MdcClient } from '../remote';
import { RemoteModule } from '../remote/remote.module';
import { MdcLink } from './mdc-link';
import { Resync } from './resync';
import { SyncCycle } from './sync-cycle';
import { SyncStatusService } from './sync-status.service';
import { SyncController } from './sync.controller';
import { SyncProcessor } from './sync.processor';
import { SYNC_QUEUE, SyncEvents, SyncScheduler } from './sync.scheduler';

/**
 * SPEC §8: the sync cycle — push, MDC-authoritative resync, record — as a BullMQ queue in the site's
 * Redis (its keys under the site's hash tag), its scheduler and processor, the change signal, and
 * the `/sync` routes.
 */
@Module({
  imports: [
    CacheModule,
    RemoteModule,
    BullModule.forRootAsync({
      imports: [CacheModule],
      inject: [SITE_ENV, SiteRedis],
      useFactory: (env: SiteEnv, redis: SiteRedis) => ({
        // BullMQ's connections are its own: its workers block on theirs, so they keep their offline
        // queue and no command timeout, but come back as soon as the site's own does. What an HTTP
        // request waits for on them is bounded by SyncScheduler.runNow (SPEC §5).
        connection: redis.bullConnection(),
        prefix: new CacheKeys(env.siteId).bullPrefix,
      }),
    }),
    BullModule.registerQueue({ name: SYNC_QUEUE }),
  ],
  controllers: [SyncController],
  providers: [
    {
      provide: Resync,
      inject: [SiteCacheStore],
      useFactory: (store: SiteCacheStore) => new Resync(store),
    },
    {
      provide: SyncCycle,
      inject: [SiteCacheStore, MdcClient, Resync, SITE_ENV, ClusterConfigService],
      useFactory: (
        store: SiteCacheStore,
        mdc: MdcClient,
        resync: Resync,
        env: SiteEnv,
        config: ClusterConfigService,
      ) =>
        new SyncCycle(
          store,
          mdc,
          resync,
          env.snapshotPage,
          () => config.current.cluster.ackRetentionMs,
          () => ({
            replicas: config.current.cluster.redisWaitReplicas,
            timeoutMs: config.current.cluster.redisWaitTimeoutMs,
          }),
        ),
    },
    SyncScheduler,
    SyncEvents,
    SyncProcessor,
    MdcLink,
    SyncStatusService,
  ],
  exports: [SyncScheduler],
})
export class SyncModule {}
