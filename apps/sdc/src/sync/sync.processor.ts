import { randomUUID } from 'node:crypto';
import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject } from '@nestjs/common';
import { SiteCacheStore } from '../cache/site-cache.store';
import { SdcMetrics } from '../ops/sdc.metrics';
import { MdcLink } from './mdc-link';
import { CycleReport, SyncCycle } from './sync-cycle';
import { SYNC_QUEUE, SyncScheduler } from './sync.scheduler';

/** The cycle lock's lifetime; renewed while the cycle runs, so a dead replica frees it within this. */
const LOCK_MS = 3000;
const LOCK_POLL_MS = 25;

/**
 * SPEC §8: runs the sync cycle's jobs. Several replicas of a site never run two cycles at once: each
 * job takes the site's cycle lock (in the store) first. A cycle asked for while another runs waits
 * for it, then runs — so `POST /sync/run` reports a cycle that started after it was asked for.
 */
@Processor(SYNC_QUEUE, { concurrency: 1 })
export class SyncProcessor extends WorkerHost {
  constructor(
    @Inject(SyncCycle) private readonly cycle: SyncCycle,
    private readonly store: SiteCacheStore,
    private readonly scheduler: SyncScheduler,
    private readonly link: MdcLink,
    private readonly metrics: SdcMetrics,
  ) {
    super();
  }

  async process(): Promise<CycleReport> {
    const report = await this.underCycleLock(() => this.cycle.run());
    this.metrics.recordCycle(report);
    this.link.noteCycle(report);
    if (!report.ok && (await this.store.queueLength()) > 0) this.scheduler.retryLater();
    else this.scheduler.resetRetry();
    return report;
  }

  private async underCycleLock<T>(run: () => Promise<T>): Promise<T> {
    const token = randomUUID();
    while (!(await this.store.tryCycleLock(token, LOCK_MS))) {
      if (this.scheduler.stopping) throw new Error('the site is stopping');
      await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
    }
    const renew = setInterval(
      () => void this.store.renewCycleLock(token, LOCK_MS).catch(() => undefined),
      LOCK_MS / 3,
    );
    try {
      return await run();
    } finally {
      clearInterval(renew);
      await this.store.releaseCycleLock(token).catch(() => undefined);
    }
  }
}
