import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { ClusterConfigService, SITE_ENV, SiteEnv } from '@dd/admin-api';
import { masterSite } from '@dd/cluster-config';
import { loadPrivateKey } from '@dd/site-auth';
import { SiteCacheStore } from '../cache/site-cache.store';
import { LocalWrites } from '../directory/local-writes';
import {
  ChangeSignalClient,
  MdcClient,
  MdcUnreachableError,
  ProxyForwarder,
  SiteHttp,
  SiteUnreachableError,
} from '../remote';
import { Resync } from '../sync/resync';
import { CycleReport, SyncCycle } from '../sync/sync-cycle';
import { SyncScheduler } from '../sync/sync-scheduler';
import { SdcMetrics } from '../ops/sdc.metrics';

/**
 * The site's moving parts, built once: the Redis store, the write path, the MDC client, the cycle
 * and its scheduler, the change-signal subscription and the proxy. Plain classes (testable without
 * NestJS) wired here.
 */
@Injectable()
export class SiteCore implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('SiteCore');
  readonly redis: Redis;
  readonly store: SiteCacheStore;
  readonly writes: LocalWrites;
  readonly mdc: MdcClient;
  readonly http: SiteHttp;
  readonly proxy: ProxyForwarder;
  readonly scheduler: SyncScheduler;
  readonly signal: ChangeSignalClient;
  mdcReachable = false;
  private unsubscribe: (() => void) | undefined;

  constructor(
    @Inject(SITE_ENV) readonly env: SiteEnv,
    readonly config: ClusterConfigService,
    private readonly metrics: SdcMetrics,
  ) {
    if (!env.redisUrl) throw new Error('environment variable REDIS_URL is required for an SDC');
    if (!env.siteKeyFile) throw new Error('environment variable SITE_KEY_FILE is required for an SDC');
    const site = env.siteId;
    this.redis = new Redis(env.redisUrl, { maxRetriesPerRequest: 2 });
    this.store = new SiteCacheStore(this.redis, site);
    this.writes = new LocalWrites(
      this.store,
      site,
      () => config.current.masterDomain,
      () => config.current.cluster.submitQueueCapacity,
    );
    this.http = new SiteHttp({ siteId: site, privateKey: loadPrivateKey(env.siteKeyFile) });
    const masterUrl = () => masterSite(config.current).url;
    this.mdc = new MdcClient(this.http, masterUrl);
    this.proxy = new ProxyForwarder(this.http, site);
    const cycle = new SyncCycle(this.store, this.mdc, new Resync(this.store, this.writes), isUnreachable);
    this.scheduler = new SyncScheduler(cycle, async () => (await this.store.queueLength()) > 0, {
      redisUrl: env.redisUrl,
      prefix: this.store.keys.bullPrefix,
      intervalMs: () => config.syncIntervalMs,
      onCycle: (report) => this.onCycle(report),
      log: (msg) => this.logger.warn(msg),
    });
    this.signal = new ChangeSignalClient({
      http: this.http,
      masterUrl,
      onChange: () => this.scheduler.soon(0),
      onConnectedChange: (connected) => {
        this.metrics.signalConnected.set(connected ? 1 : 0);
        // After an outage, catch up at once rather than at the next period.
        if (connected) this.scheduler.soon();
      },
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.store.ensureEpoch(randomUUID());
    await this.scheduler.start();
    this.unsubscribe = this.config.onChange(() => {
      void this.scheduler.schedule();
      // SPEC §4: a zone added or removed takes effect in the next cycle; run it now.
      this.scheduler.soon();
    });
    this.signal.start();
    this.scheduler.soon();
  }

  async onModuleDestroy(): Promise<void> {
    this.unsubscribe?.();
    await this.signal.stop();
    await this.scheduler.stop();
    this.redis.disconnect();
  }

  private onCycle(report: CycleReport): void {
    this.mdcReachable = report.ok || report.error !== 'mdc_unreachable';
    this.metrics.recordCycle(report);
  }
}

export function isUnreachable(err: unknown): boolean {
  return err instanceof MdcUnreachableError || err instanceof SiteUnreachableError;
}
