import { randomUUID } from 'node:crypto';
import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject } from '@nestjs/common';
import type { Job } from 'bullmq';
import { SiteCacheStore } from '../cache/site-cache.store';
import { SdcMetrics } from '../ops/sdc.metrics';
import { MdcLink } from './mdc-link';
import { CycleProgress, CycleReport, SyncCycle } from './sync-cycle';
import { CycleJob, SYNC_QUEUE, SyncScheduler } from './sync.scheduler';

/** The cycle lock's lifetime; renewed while the cycle runs, so a dead replica frees it within this. */
const LOCK_MS = 3000;
const LOCK_POLL_MS = 25;
/** A cycle's progress is written to its job at most this often — and not at all by a short cycle. */
const PROGRESS_EVERY_MS = 500;

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

  /** null: a signal the site had already pulled through; no cycle ran. */
  async process(job: Job<CycleJob | { kind?: undefined }>): Promise<CycleReport | null> {
    const signal = job.data.kind === 'signal' ? job.data : undefined;
    const progress = throttledProgress(job);
    const report = await this.underCycleLock(async () => {
      // Checked under the lock: the cycle that held it may have pulled this version already.
      if (signal && (await this.cycle.pulledThrough(signal.version))) return null;
      return this.cycle.run(progress.set, signal ? 'root' : 'full');
    }).finally(progress.stop);
    if (!report) return null;
    this.metrics.recordCycle(report);
    this.link.noteCycle(report);
    // SPEC §6: retried on its own while changes wait — or while the store is away, to converge once it is back.
    if (!report.ok && (report.error === 'store_unavailable' || (await this.store.queueLength()) > 0))
      this.scheduler.retryLater();
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

/**
 * The running cycle's progress on its job, for `POST /sync/run` past its deadline (SPEC §5): the latest
 * value, written every PROGRESS_EVERY_MS, so a cycle of a few milliseconds costs no extra round trip.
 */
function throttledProgress(job: Job): { set: (progress: CycleProgress) => void; stop: () => void } {
  let latest: CycleProgress | undefined;
  const timer = setInterval(() => {
    if (!latest) return;
    void job.updateProgress(latest).catch(() => undefined);
    latest = undefined;
  }, PROGRESS_EVERY_MS);
  return {
    set: (progress) => (latest = progress),
    stop: () => clearInterval(timer),
  };
}
