import { Injectable, OnModuleInit } from '@nestjs/common';
import { ClusterConfigService, messageOf } from '@dd/admin-api';
import { zonesOf } from '@dd/cluster-config';
import { targetDomain } from '@dd/directory';
import { AdminIdentity, scopeAllows } from '@dd/site-auth';
import { SiteCacheStore } from '../cache/site-cache.store';
import { SdcMetrics } from '../ops/sdc.metrics';
import { MdcLink } from './mdc-link';
import { type CycleReport, REJECTIONS_KEPT } from './sync-cycle';
import { SyncScheduler } from './sync.scheduler';

/** What `/sync/status`, `/sync/rejections` and `POST /sync/run` answer (SPEC §5), and the queue gauges. */
@Injectable()
export class SyncStatusService implements OnModuleInit {
  constructor(
    private readonly store: SiteCacheStore,
    private readonly config: ClusterConfigService,
    private readonly link: MdcLink,
    private readonly scheduler: SyncScheduler,
    private readonly metrics: SdcMetrics,
  ) {}

  onModuleInit(): void {
    this.metrics.readQueueFrom(() => this.queue());
  }

  async status() {
    const [meta, queue, status] = await Promise.all([this.store.meta(), this.queue(), this.store.status()]);
    return {
      site: this.config.siteId,
      role: 'site',
      epoch: meta.epoch ?? null,
      queue: { ...queue, capacity: this.config.current.cluster.submitQueueCapacity },
      mdcReachable: this.link.mdcReachable,
      signalConnected: this.link.signalConnected,
      cursor: meta.cursor,
      lastPushAt: status.lastPushAt ?? null,
      lastResyncAt: status.lastResyncAt ?? null,
      lastCycle: status.lastCycle ? (JSON.parse(status.lastCycle) as CycleReport) : null,
      servedZones: zonesOf(this.config.current, this.config.siteId),
    };
  }

  async queue(): Promise<{ length: number; oldestAgeMs: number | null }> {
    const [length, head] = await Promise.all([this.store.queueLength(), this.store.queueHead(1)]);
    return { length, oldestAgeMs: head.length > 0 ? Date.now() - Date.parse(head[0].at) : null };
  }

  /**
   * SPEC §9: an admin with a scoped token sees only the rejections of its scope (by the domain each
   * refused change is about); `limit` counts the ones it may see. The log is capped, so a scoped
   * admin's read of it is bounded too.
   */
  async rejections(scope: AdminIdentity['scope'], limit: number) {
    if (scope === '*') return { items: await this.store.rejections(limit) };
    const kept = await this.store.rejections(REJECTIONS_KEPT);
    return { items: kept.filter((r) => scopeAllows(scope, targetDomain(r.change))).slice(0, limit) };
  }

  /** SPEC §5: 200 with `lastCycle` even when the cycle failed — or could not run in time. */
  async runNow(): Promise<{ lastCycle: CycleReport }> {
    const started = Date.now();
    try {
      return { lastCycle: await this.scheduler.runNow() };
    } catch (err) {
      return {
        lastCycle: {
          ok: false,
          error: `cycle_not_finished: ${messageOf(err)}`,
          durationMs: Date.now() - started,
          pushed: 0,
          rejected: 0,
          pulled: 0,
          repaired: 0,
          at: new Date(started).toISOString(),
        },
      };
    }
  }
}
