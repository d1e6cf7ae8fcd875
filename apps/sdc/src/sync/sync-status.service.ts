import type { SyncRunning } from './sync.processor';
import { Injectable, OnModuleInit } from '@nestjs/common';
import { ApiError, ClusterConfigService, messageOf, StoreUnavailableError } from '@dd/admin-api';
import { zonesOf } from '@dd/cluster-config';
import { targetDomain } from '@dd/directory';
import { AdminIdentity, scopeAllows } from '@dd/site-auth';
import { SiteCacheStore } from '../cache/site-cache.store';
import { isRedisFailure } from '../cache/store-failure';
import { SdcMetrics } from '../ops/sdc.metrics';
import { MdcLink } from './mdc-link';
import { type ChangesLost, type CycleProgress, type CycleReport, REJECTIONS_KEPT } from './sync-cycle';
import { RUN_NOW_TIMEOUT_MS, SyncScheduler } from './sync.scheduler';

/** The longest `POST /sync/run?timeoutMs=` may wait. */
const MAX_RUN_TIMEOUT_MS = 600_000;

/** `POST /sync/run`'s answer (SPEC §5): 200 with the cycle's report, or 202 with a running cycle's progress. */
export type RunAnswer =
  { status: 200; body: { lastCycle: CycleReport } } | { status: 202; body: CycleProgress };

/** `?timeoutMs=`: whole milliseconds from 1 to MAX_RUN_TIMEOUT_MS; none, the default. */
export function parseRunTimeout(raw: unknown): number {
  if (raw === undefined || raw === '') return RUN_NOW_TIMEOUT_MS;
  const ms = Number(raw);
  if (!Number.isInteger(ms) || ms < 1 || ms > MAX_RUN_TIMEOUT_MS)
    throw new ApiError('validation_failed', `timeoutMs must be an integer from 1 to ${MAX_RUN_TIMEOUT_MS}`);
  return ms;
}

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
      running: runningNow(status.running),
      lostChanges: status.lostChanges ? (JSON.parse(status.lostChanges) as ChangesLost) : null,
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

  /**
   * SPEC §5: 200 with `lastCycle` when the cycle is over — also when it failed or could not run at all
   * (`ok: false`, `error`: e.g. `store_unavailable`) — or 202 with its progress when it is still running
   * at the deadline (it goes on).
   */
  async runNow(timeoutMs: number): Promise<RunAnswer> {
    const started = Date.now();
    try {
      const run = await this.scheduler.runNow(timeoutMs);
      return run.finished
        ? { status: 200, body: { lastCycle: run.report } }
        : { status: 202, body: run.progress };
    } catch (err) {
      const storeDown = err instanceof StoreUnavailableError || isRedisFailure(err);
      const lastCycle: CycleReport = {
        ok: false,
        error: storeDown ? 'store_unavailable' : messageOf(err),
        durationMs: Date.now() - started,
        pushed: 0,
        rejected: 0,
        pulled: 0,
        repaired: 0,
        at: new Date(started).toISOString(),
      };
      return { status: 200, body: { lastCycle } };
    }
  }
}

/**
 * The running cycle's progress as last written (every 500 ms while it runs), or null: none runs, or
 * the replica running it went away (nothing written for 5 s).
 */
function runningNow(raw: string | undefined): SyncRunning | null {
  if (!raw) return null;
  const running = JSON.parse(raw) as SyncRunning;
  return Date.now() - Date.parse(running.at) <= 5000 ? running : null;
}
