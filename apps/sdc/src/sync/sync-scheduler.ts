import { randomUUID } from 'node:crypto';
import { Job, Queue, QueueEvents, Worker } from 'bullmq';
import Redis from 'ioredis';
import type { CycleReport, SyncCycle } from './sync-cycle';

const QUEUE = 'sync';
const SCHEDULER_ID = 'cycle';
/** SPEC §8: a write is pushed within 100 ms; writes closer together than this share one cycle. */
const SOON_MS = 20;
const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 5000;
/** BullMQ renews a running job's lock every half of this; a dead worker's job is freed within ~2× this. */
const LOCK_MS = 3000;
const RENEW_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
const RELEASE_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export interface SchedulerOptions {
  redisUrl: string;
  prefix: string;
  intervalMs: () => number;
  onCycle?: (report: CycleReport) => void;
  log?: (msg: string) => void;
}

/**
 * SPEC §8: the sync cycle as a BullMQ job. One scheduler entry (`upsertJobScheduler`) however many
 * replicas run, a cycle lock in Redis so a site never runs two cycles at once, plus on-demand runs
 * (`POST /sync/run`, a local write, the MDC's change signal) and retries with capped backoff while
 * the MDC is unreachable and changes wait.
 */
export class SyncScheduler {
  private queue: Queue | undefined;
  private worker: Worker | undefined;
  private events: QueueEvents | undefined;
  private soonTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryMs = RETRY_MIN_MS;
  private watchdog: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly connections: Redis[] = [];
  private locks: Redis | undefined;

  constructor(
    private readonly cycle: SyncCycle,
    private readonly hasQueued: () => Promise<boolean>,
    private readonly opts: SchedulerOptions,
  ) {}

  async start(): Promise<void> {
    // BullMQ wants connections that retry forever; each part gets its own (workers block on theirs).
    const connection = () => {
      const redis = new Redis(this.opts.redisUrl, { maxRetriesPerRequest: null });
      this.connections.push(redis);
      return redis;
    };
    const prefix = this.opts.prefix;
    this.locks = connection();
    this.queue = new Queue(QUEUE, { connection: connection(), prefix });
    // One cycle at a time is the cycle lock's job (below), not BullMQ's global concurrency: a replica
    // killed mid-cycle would hold that slot until BullMQ's stalled-job check, tens of seconds later.
    await this.queue.removeGlobalConcurrency();
    await this.schedule();
    this.events = new QueueEvents(QUEUE, { connection: connection(), prefix });
    this.worker = new Worker(QUEUE, (job: Job) => this.process(job), {
      connection: connection(),
      prefix,
      concurrency: 1,
    });
    await Promise.all([this.events.waitUntilReady(), this.worker.waitUntilReady()]);
    // A Redis that lost its data lost the schedule too: declare it again if it is gone.
    this.watchdog = setInterval(() => void this.ensureScheduled(), Math.max(1000, this.opts.intervalMs()));
    this.watchdog.unref();
  }

  private async ensureScheduled(): Promise<void> {
    try {
      if (!(await this.queue?.getJobScheduler(SCHEDULER_ID))) {
        this.opts.log?.('the sync schedule was gone (Redis lost its data?): declaring it again');
        await this.schedule();
      }
    } catch (err) {
      this.opts.log?.(`cannot check the sync schedule: ${(err as Error).message}`);
    }
  }

  /** (Re)declares the periodic cycle; called again when a config reload changes the interval. */
  async schedule(): Promise<void> {
    await this.queue?.upsertJobScheduler(
      SCHEDULER_ID,
      { every: this.opts.intervalMs() },
      { name: 'cycle', opts: { removeOnComplete: 100, removeOnFail: 100 } },
    );
  }

  /** Runs a cycle now and answers with its report (SPEC §5 `POST /sync/run`). */
  async runNow(timeoutMs = 30_000): Promise<CycleReport> {
    const job = await this.queue!.add('cycle', {}, { removeOnComplete: 100, removeOnFail: 100 });
    return (await job.waitUntilFinished(this.events!, timeoutMs)) as CycleReport;
  }

  /**
   * A cycle shortly: after a local write (debounced, so a burst shares one push), or at once for the
   * MDC's change signal (already one event per applied batch). Triggers while one is pending coalesce.
   */
  soon(delayMs = SOON_MS): void {
    if (this.stopped || this.soonTimer) return;
    this.soonTimer = setTimeout(() => {
      this.soonTimer = undefined;
      void this.queue?.add('cycle', {}, { removeOnComplete: 100, removeOnFail: 100 }).catch((err: Error) => {
        this.opts.log?.(`cannot queue a sync cycle: ${err.message}`);
      });
    }, delayMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.soonTimer);
    clearTimeout(this.retryTimer);
    clearInterval(this.watchdog);
    await this.worker?.close();
    await this.events?.close();
    await this.queue?.close();
    for (const redis of this.connections) redis.disconnect();
  }

  private async process(_job: Job): Promise<CycleReport> {
    const report = await this.underCycleLock(() => this.cycle.run());
    this.opts.onCycle?.(report);
    // SPEC §6: a failed push is retried with backoff on its own, never only when the next write arrives.
    if (!report.ok && (await this.hasQueued())) this.retryLater();
    else this.retryMs = RETRY_MIN_MS;
    return report;
  }

  /**
   * SPEC §8: several replicas never run two cycles of one site at once. A short lock renewed while
   * the cycle runs; a replica that dies holding it frees it within LOCK_MS. A cycle asked for while
   * another runs waits for it, then runs (so `POST /sync/run` reports a cycle that started after it).
   */
  private async underCycleLock<T>(run: () => Promise<T>): Promise<T> {
    const key = `${this.opts.prefix}:cycle-lock`;
    const token = randomUUID();
    while ((await this.locks!.set(key, token, 'PX', LOCK_MS, 'NX')) !== 'OK') {
      if (this.stopped) throw new Error('the scheduler is stopping');
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    const renew = setInterval(() => {
      void this.locks!.eval(RENEW_LUA, 1, key, token, String(LOCK_MS)).catch(() => undefined);
    }, LOCK_MS / 3);
    try {
      return await run();
    } finally {
      clearInterval(renew);
      await this.locks!.eval(RELEASE_LUA, 1, key, token).catch(() => undefined);
    }
  }

  private retryLater(): void {
    if (this.stopped || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.soon();
    }, this.retryMs);
    this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
  }
}
