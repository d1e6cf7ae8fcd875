import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { InjectQueue, OnQueueEvent, QueueEventsHost, QueueEventsListener } from '@nestjs/bullmq';
import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { Job, Queue } from 'bullmq';
import { ClusterConfigService, messageOf, StoreUnavailableError } from '@dd/admin-api';
import { connectionErrorLog } from '../cache/connection-errors';
import { SiteCacheStore } from '../cache/site-cache.store';
import type { CycleProgress, CycleReport } from './sync-cycle';

export const SYNC_QUEUE = 'sync';
const SCHEDULER_ID = 'cycle';
const JOB = { name: 'cycle', opts: { removeOnComplete: 100, removeOnFail: 100 } } as const;
/** SPEC §8: a write is pushed within 100 ms; writes closer together than this share one cycle. */
const SOON_MS = 20;
/**
 * A local write's push waits this long for more writes (SPEC §8: at most 100 ms). Short: the write
 * path groups a burst already (SPEC §6), and while a cycle runs later writes wait for the next.
 */
export const PUSH_SOON_MS = 2;
const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 5000;
/** SPEC §5: how long `POST /sync/run` waits for its cycle by default. */
export const RUN_NOW_TIMEOUT_MS = 120_000;
/** While waiting for a cycle, how often the site's Redis is asked whether it still answers. */
const STORE_WATCH_MS = 1000;
/** Past the deadline, how long reading the cycle's progress may take before the answer goes without it. */
const PROGRESS_READ_MS = 1000;
const NOT_STARTED: CycleProgress = { phase: 'queued', pages: 0, objects: 0 };

/**
 * What a cycle job asks for (its data): `signal` — the MDC's change signal reached `version`, so a
 * light cycle (push, pull, root digest) unless the site has pulled through it already; `full` — the
 * whole cycle with the scrub (periodic, on demand, a reconnect); `push` — local writes wait: the
 * light cycle, always run. The periodic job carries no data and counts as full.
 */
export type CycleJob = { kind: 'full' } | { kind: 'push' } | { kind: 'signal'; version: string };

const FULL: CycleJob = { kind: 'full' };
const PUSH: CycleJob = { kind: 'push' };

/**
 * Two triggers that share one pending job: a full cycle covers the others, a push covers a signal
 * (it pulls too); of two signals, the later one.
 */
export function coalesce(pending: CycleJob | undefined, next: CycleJob): CycleJob {
  if (!pending) return next;
  if (pending.kind === 'full' || next.kind === 'full') return FULL;
  if (pending.kind === 'push' || next.kind === 'push') return PUSH;
  return next;
}

/** A cycle asked for now: its report when it finished in time, else how far it has got (it goes on). */
export type CycleRun = { finished: true; report: CycleReport } | { finished: false; progress: CycleProgress };

/** The sync queue's events, for waiting on one cycle's job (`POST /sync/run`, `X-Wait-For: mdc`). */
@QueueEventsListener(SYNC_QUEUE)
export class SyncEvents extends QueueEventsHost {
  private readonly errors = connectionErrorLog(new Logger('SyncEvents'), 'sync queue events');

  @OnQueueEvent('error')
  onError(err: Error): void {
    this.errors(err);
  }
}

/**
 * SPEC §8: when the site's sync cycle runs. One BullMQ job scheduler entry (`upsertJobScheduler`)
 * however many replicas run, plus cycles on demand — `POST /sync/run`, a local write (debounced), the
 * MDC's change signal, a config reload — and retries with capped backoff while the MDC is
 * unreachable and changes wait (SPEC §6). `SyncProcessor` runs the jobs, one cycle at a time.
 */
@Injectable()
export class SyncScheduler implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('SyncScheduler');
  private soonTimer: NodeJS.Timeout | undefined;
  private soonJob: CycleJob | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryMs = RETRY_MIN_MS;
  private watchdog: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private stopped = false;

  constructor(
    @InjectQueue(SYNC_QUEUE) private readonly queue: Queue,
    private readonly events: SyncEvents,
    private readonly store: SiteCacheStore,
    private readonly config: ClusterConfigService,
  ) {
    queue.on('error', connectionErrorLog(this.logger, 'sync queue'));
  }

  async onApplicationBootstrap(): Promise<void> {
    // A cache of an older key layout goes before anything reads it (its queue is kept).
    await this.store.ensureLayout();
    // SPEC §7: a queue state that is new gets its epoch before anything is queued.
    await this.store.ensureEpoch(randomUUID());
    // One cycle at a time is the store's cycle lock's job, not BullMQ's global concurrency: a replica
    // killed mid-cycle would hold that slot until BullMQ's stalled-job check, tens of seconds later.
    await this.queue.removeGlobalConcurrency();
    await this.schedule();
    await this.events.queueEvents.waitUntilReady();
    // A Redis that lost its data lost the schedule too: declare it again if it is gone.
    this.watchdog = setInterval(
      () => void this.ensureScheduled(),
      Math.max(1000, this.config.syncIntervalMs),
    );
    this.watchdog.unref();
    this.unsubscribe = this.config.onChange(() => {
      void this.schedule().catch((err: unknown) =>
        this.logger.warn(`cannot re-declare the schedule: ${messageOf(err)}`),
      );
      // SPEC §4: a zone added or removed takes effect in the next cycle; run it now.
      this.soon();
    });
    this.soon();
  }

  onModuleDestroy(): void {
    this.stopped = true;
    this.unsubscribe?.();
    clearTimeout(this.soonTimer);
    clearTimeout(this.retryTimer);
    clearInterval(this.watchdog);
  }

  get stopping(): boolean {
    return this.stopped;
  }

  /**
   * Runs a cycle now and waits for it until `timeoutMs` (SPEC §5 `POST /sync/run`): its report, or its
   * progress if it is still running then. Whatever the store does, it answers in time: BullMQ keeps its
   * commands while Redis is away (its worker must wait for Redis's return), so the wait is raced with a
   * watch on the site's own, fail-fast connection — a store that stops answering rejects it with
   * `StoreUnavailableError` — and with the deadline itself. A failed cycle job rejects with its reason.
   */
  async runNow(timeoutMs = RUN_NOW_TIMEOUT_MS): Promise<CycleRun> {
    const done = new AbortController();
    try {
      return await Promise.race([
        this.runAndWait(timeoutMs),
        this.whileStoreAnswers(done.signal),
        sleep(timeoutMs + PROGRESS_READ_MS, undefined, { signal: done.signal }).then((): CycleRun => ({
          finished: false,
          progress: NOT_STARTED,
        })),
      ]);
    } finally {
      done.abort();
    }
  }

  private async runAndWait(timeoutMs: number): Promise<CycleRun> {
    const until = Date.now() + timeoutMs;
    const job = await this.queue.add(JOB.name, FULL, JOB.opts);
    try {
      const report = (await job.waitUntilFinished(
        this.events.queueEvents,
        Math.max(1, until - Date.now()),
      )) as CycleReport;
      return { finished: true, report };
    } catch (err) {
      // Failed, or not finished by the deadline: only the job's state tells which.
      if ((await job.getState()) === 'failed') throw err;
      const progress = (await Job.fromId(this.queue, job.id!))?.progress;
      return { finished: false, progress: isProgress(progress) ? progress : NOT_STARTED };
    }
  }

  /** Never resolves; rejects once the site's Redis stops answering, or with an AbortError when `signal` aborts. */
  private async whileStoreAnswers(signal: AbortSignal): Promise<never> {
    for (;;) {
      try {
        await this.store.ping();
      } catch (err) {
        throw new StoreUnavailableError(messageOf(err));
      }
      await sleep(STORE_WATCH_MS, undefined, { signal });
    }
  }

  /**
   * A cycle shortly: after a local write (debounced, so a burst shares one push), or at once for the
   * MDC's change signal (already one event per applied batch). Triggers while one is pending coalesce.
   */
  soon(delayMs = SOON_MS, job: CycleJob = FULL): void {
    this.soonAt(delayMs, job);
  }

  /**
   * SPEC §6 step 3: local writes were queued; push them right away (debounced, a light cycle) — unless
   * the last cycle could not get through (a retry with backoff is armed): that retry pushes them. A
   * cut-off site that tried again at every write would read and send a full push window per write,
   * all of it refused, and starve its own write path.
   */
  pushSoon(): void {
    if (this.retryTimer) return;
    this.soonAt(PUSH_SOON_MS, PUSH);
  }

  private soonAt(delayMs: number, job: CycleJob): void {
    if (this.stopped) return;
    this.soonJob = coalesce(this.soonJob, job);
    if (this.soonTimer) return;
    this.soonTimer = setTimeout(() => {
      const data = this.soonJob ?? FULL;
      this.soonTimer = undefined;
      this.soonJob = undefined;
      void this.queue.add(JOB.name, data, JOB.opts).catch((err: unknown) => {
        this.logger.warn(`cannot queue a sync cycle: ${messageOf(err)}`);
      });
    }, delayMs);
  }

  /** SPEC §6: a failed push is retried with backoff on its own, never only when the next write arrives. */
  retryLater(): void {
    if (this.stopped || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.soon();
    }, this.retryMs);
    this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
  }

  /**
   * A cycle went through (or had nothing waiting): a retry still armed is dropped — writes push at once
   * again (`pushSoon`) — and the next failure retries quickly again.
   */
  resetRetry(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.retryMs = RETRY_MIN_MS;
  }

  /** (Re)declares the periodic cycle; called again when a config reload changes the interval. */
  private async schedule(): Promise<void> {
    await this.queue.upsertJobScheduler(SCHEDULER_ID, { every: this.config.syncIntervalMs }, JOB);
  }

  private async ensureScheduled(): Promise<void> {
    try {
      if (!(await this.queue.getJobScheduler(SCHEDULER_ID))) {
        this.logger.warn('the sync schedule was gone (Redis lost its data?): declaring it again');
        await this.schedule();
      }
    } catch (err) {
      this.logger.warn(`cannot check the sync schedule: ${messageOf(err)}`);
    }
  }
}

function isProgress(value: unknown): value is CycleProgress {
  return typeof value === 'object' && value !== null && typeof (value as CycleProgress).phase === 'string';
}
