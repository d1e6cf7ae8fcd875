import { randomUUID } from 'node:crypto';
import { OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger } from '@nestjs/common';
import type { Job } from 'bullmq';
import { messageOf } from '@dd/admin-api';
import { connectionErrorLog } from '../cache/connection-errors';
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
/** A long cycle (a bootstrap, a reload) says in the log how far it is, this often. */
const LOG_EVERY_MS = 10_000;
/** A cycle failing again with the same error is logged again after this long. */
const REPEAT_FAILURE_LOG_MS = 30_000;

/**
 * SPEC §8: runs the sync cycle's jobs. Several replicas of a site never run two cycles at once: each
 * job takes the site's cycle lock (in the store) first. A cycle asked for while another runs waits
 * for it, then runs — so `POST /sync/run` reports a cycle that started after it was asked for.
 */
@Processor(SYNC_QUEUE, { concurrency: 1 })
export class SyncProcessor extends WorkerHost {
  private readonly logger = new Logger('SyncCycle');
  private readonly workerErrors = connectionErrorLog(this.logger, 'sync worker');
  /** the failures in a row so far, of one error, and when one was last logged */
  private failing: { error: string | null; count: number; loggedAt: number } | undefined;

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
    const progress = throttledProgress(job, this.store, this.logger);
    const report = await this.underCycleLock(async () => {
      // Checked under the lock: the cycle that held it may have pulled this version already.
      if (signal && (await this.cycle.pulledThrough(signal.version))) return null;
      return this.cycle.run(
        progress.set,
        job.data.kind === 'signal' || job.data.kind === 'push' ? 'root' : 'full',
      );
    })
      .catch((err: unknown) => {
        this.logger.error({ err, job: job.data.kind ?? 'scheduled' }, `sync cycle failed: ${messageOf(err)}`);
        throw err;
      })
      .finally(progress.stop);
    if (!report) return null;
    this.logOutcome(report);
    this.metrics.recordCycle(report);
    this.link.noteCycle(report);
    // SPEC §6: retried on its own while changes wait — or while the store is away, to converge once it is back.
    if (!report.ok && (report.error === 'store_unavailable' || (await this.store.queueLength()) > 0))
      this.scheduler.retryLater();
    else this.scheduler.resetRetry();
    return report;
  }

  /**
   * SPEC §10: a cycle failure is logged (every one also goes to /sync/status and /metrics) — while
   * the same error lasts, once per REPEAT_FAILURE_LOG_MS (cut off, every write asks for a cycle) —
   * and so is the first cycle that succeeds after failures.
   */
  private logOutcome(report: CycleReport): void {
    const { ok, error, durationMs, pushed, rejected, pulled } = report;
    const failing = this.failing;
    if (ok) {
      if (failing)
        this.logger.log(
          { failures: failing.count, error: failing.error },
          `sync cycle ok again after ${failing.count} failed (${failing.error})`,
        );
      this.failing = undefined;
      return;
    }
    const now = Date.now();
    if (failing?.error === error) {
      failing.count += 1;
      if (now - failing.loggedAt < REPEAT_FAILURE_LOG_MS) return;
      failing.loggedAt = now;
    } else this.failing = { error, count: 1, loggedAt: now };
    const failures = this.failing!.count;
    this.logger.warn(
      { error, durationMs, pushed, rejected, pulled, failures },
      `sync cycle failed: ${error}`,
    );
  }

  @OnWorkerEvent('error')
  onWorkerError(err: Error): void {
    this.workerErrors(err);
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
 * The running cycle's progress (SPEC §5): on its job, for `POST /sync/run` past its deadline, and in
 * the site's status (`/sync/status` `running`), written every PROGRESS_EVERY_MS — so a cycle of a few
 * milliseconds costs no extra round trip — and logged every LOG_EVERY_MS of a long one.
 */
function throttledProgress(
  job: Job,
  store: SiteCacheStore,
  logger: Logger,
): { set: (progress: CycleProgress) => void; stop: () => Promise<void> } {
  const startedAt = new Date().toISOString();
  const started = Date.now();
  let latest: CycleProgress | undefined;
  let shown: CycleProgress | undefined;
  let logged = started;
  let written = false;
  const timer = setInterval(() => {
    if (!latest) return;
    const now: SyncRunning = { ...latest, startedAt, at: new Date().toISOString() };
    void job.updateProgress(latest).catch(() => undefined);
    void store.commit(store.plan().setStatus('running', JSON.stringify(now)), false).catch(() => undefined);
    written = true;
    shown = latest;
    latest = undefined;
    if (Date.now() - logged >= LOG_EVERY_MS) {
      logged = Date.now();
      const s = Math.round((Date.now() - started) / 1000);
      logger.log(`cycle running for ${s} s: ${shown.phase}, ${shown.pages} pages, ${shown.objects} objects`);
    }
  }, PROGRESS_EVERY_MS);
  return {
    set: (progress) => (latest = progress),
    stop: async () => {
      clearInterval(timer);
      if (!written) return;
      if (Date.now() - started >= LOG_EVERY_MS && shown)
        logger.log(`cycle done after ${Math.round((Date.now() - started) / 1000)} s: ${shown.pages} pages`);
      await store.commit(store.plan().clearStatus('running'), false).catch(() => undefined);
    },
  };
}

/** `/sync/status` `running`: the phase and counts of the cycle running now, when it started, when last told. */
export interface SyncRunning extends CycleProgress {
  startedAt: string;
  at: string;
}
