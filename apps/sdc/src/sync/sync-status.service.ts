import { Injectable } from '@nestjs/common';
import { zonesOf } from '@dd/cluster-config';
import { SiteCore } from '../site/site-core';
import type { CycleReport } from './sync-cycle';

/** What `/sync/status`, `/sync/rejections` and `POST /sync/run` answer (SPEC §5). */
@Injectable()
export class SyncStatusService {
  constructor(private readonly core: SiteCore) {}

  async status() {
    const { store, config } = this.core;
    const [meta, queue, status] = await Promise.all([store.meta(), this.queue(), store.status()]);
    return {
      site: config.siteId,
      role: 'site',
      epoch: meta.epoch ?? null,
      queue: { ...queue, capacity: config.current.cluster.submitQueueCapacity },
      mdcReachable: this.core.mdcReachable,
      signalConnected: this.core.signal.connected,
      cursor: meta.cursor,
      lastPushAt: status.lastPushAt ?? null,
      lastResyncAt: status.lastResyncAt ?? null,
      lastCycle: status.lastCycle ? (JSON.parse(status.lastCycle) as CycleReport) : null,
      servedZones: zonesOf(config.current, config.siteId),
    };
  }

  async queue(): Promise<{ length: number; oldestAgeMs: number | null }> {
    const [length, head] = await Promise.all([this.core.store.queueLength(), this.core.store.queueHead(1)]);
    return { length, oldestAgeMs: head.length > 0 ? Date.now() - Date.parse(head[0].at) : null };
  }

  async rejections(limit: number) {
    return { items: await this.core.store.rejections(limit) };
  }

  /** SPEC §5: 200 with `lastCycle` even when the cycle failed — or could not run in time. */
  async runNow(): Promise<{ lastCycle: CycleReport }> {
    const started = Date.now();
    try {
      return { lastCycle: await this.core.scheduler.runNow() };
    } catch (err) {
      return {
        lastCycle: {
          ok: false,
          error: `cycle_not_finished: ${(err as Error).message}`,
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
