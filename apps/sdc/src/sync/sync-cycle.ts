import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { messageOf } from '@dd/admin-api';
import { CLUSTER_DEFAULTS } from '@dd/cluster-config';
import { targetPath } from '@dd/directory';
import {
  DEFAULT_SNAPSHOT_PAGE,
  MAX_MANIFEST_BUCKET_DOMAINS,
  MAX_PUSH_BATCH,
  type ManifestResponse,
  type PulledChange,
  type PushResponse,
  type PushVerdict,
  type QueuedChange,
  type SnapshotRequest,
  type SnapshotResponse,
} from '@dd/sync-protocol';
import type { AckKeeping } from '../cache/cache-plan';
import type { AckedEntry, QueueEntry, Rejection, SiteCacheStore } from '../cache/site-cache.store';
import { isRedisFailure } from '../cache/store-failure';
import type { CycleFigures } from '../ops/sdc.metrics';
import { MdcFailedError, MdcUnreachableError, SiteUnreachableError } from '../remote';
import type { Resync } from './resync';
import { LoadRequest, SnapshotLoad } from './snapshot-load';

/** What /sync/status shows of the last cycle (SPEC §5). */
export interface CycleReport extends CycleFigures {
  at: string;
}

/** What a cycle is doing: pushing the queue, pulling the log, verifying against the manifest, recording. */
export type CyclePhase = 'queued' | 'push' | 'pull' | 'verify' | 'record';

/** How far a running cycle has got (SPEC §5: `POST /sync/run` past its deadline answers 202 with it). */
export interface CycleProgress {
  phase: CyclePhase;
  /** push batches, pulled pages and snapshots done */
  pages: number;
  /** changes pushed and objects pulled so far */
  objects: number;
}

type Tick = (phase: CyclePhase, pageDone?: boolean) => void;

/**
 * How far a cycle verifies (SPEC §8): `full` — the rolling scrub, then the root digest and the
 * manifest detail if it differs (periodic and on-demand cycles); `root` — the root digest only, and
 * the detail only if it differs (a cycle the MDC's change signal asked for).
 */
export type CycleVerify = 'full' | 'root';

/** The MDC calls a cycle makes; unreachability is an error whose name says so. */
export interface MdcPort {
  push(req: { epoch: string; changes: QueuedChange[]; queueLength?: number }): Promise<PushResponse>;
  pull(req: {
    cursor: string;
    queueLength?: number;
    epoch?: string;
  }): Promise<{ reload: boolean; cursor: string; more: boolean; changes: PulledChange[]; lastSeq?: number }>;
  manifest(detail: boolean, buckets?: string[]): Promise<ManifestResponse>;
  snapshot(req: SnapshotRequest): Promise<SnapshotResponse>;
}

/** SPEC §7: as many changes per push as the MDC takes in one batch */
export const PUSH_BATCH = MAX_PUSH_BATCH;
/**
 * A push's queue entries stop short of this many bytes of JSON: the MDC takes request bodies of up
 * to 1 MiB (SPEC §9), and 1000 changes with large attributes would pass it — a 413 on every retry
 * would wedge the queue. (One entry is at most ~64 KiB of attributes plus its names.)
 */
export const PUSH_MAX_BYTES = 768 * 1024;
export const REJECTIONS_KEPT = 1000;
/** objects the rolling scrub re-hashes per full cycle (SPEC §8: the budget counts objects) */
export const SCRUB_BUDGET = 250;
/**
 * SPEC §11: acknowledged changes a site keeps at most, whatever `cluster.ackRetentionMs` says (an
 * hour of writes at thousands per second would otherwise fill the site's Redis): ten full queues,
 * ≈ 45 MiB of Redis at 200-byte changes
 */
export const ACKED_KEPT_MAX = 100_000;

/**
 * What a cycle found DomainDB lost that this site no longer keeps (older than the retention): the
 * cycle goes on under a new epoch, and ends failed with this (`changes_lost: …`).
 */
interface Lost {
  message?: string;
}

/** SPEC §11: what `/sync/status` says of the last range DomainDB lost that this site no longer kept. */
export interface ChangesLost {
  /** the epoch the range was of */
  epoch: string;
  fromSeq: number;
  toSeq: number;
  /** acknowledged changes kept after the range, queued again under `newEpoch` */
  requeued: number;
  newEpoch: string;
  at: string;
}

/** The MDC answered a push with a gap: DomainDB expects `expected` next. */
class GapError extends Error {
  constructor(
    readonly seq: number,
    readonly expected: number,
  ) {
    super(`the MDC refused seq ${seq} as a gap (it expects ${expected})`);
  }
}

/**
 * SPEC §11: DomainDB has decided the site's epoch only through `lastSeq`, less than the site saw
 * acknowledged — it lost the rest in a failover.
 */
class LostRangeError extends Error {
  constructor(
    readonly lastSeq: number,
    readonly acked: number,
    /** the same page asked for a reload (the site's cursor is past the head DomainDB has now) */
    readonly reload: boolean,
  ) {
    super(`DomainDB has decided seqs through ${lastSeq} only; ${acked} was acknowledged`);
  }
}

/**
 * SPEC §8: push the queue in order, then resync with the MDC as the authority, then record. One
 * cycle at a time per site: the caller (SyncProcessor, under the store's cycle lock) makes sure.
 */
export class SyncCycle {
  private readonly log = new Logger('SyncCycle');

  constructor(
    private readonly store: SiteCacheStore,
    private readonly mdc: MdcPort,
    private readonly resync: Resync,
    /** entities per snapshot page */
    private readonly snapshotPage: number = DEFAULT_SNAPSHOT_PAGE,
    /** how long acknowledged changes are kept (the config in force: `cluster.ackRetentionMs`) */
    private readonly ackRetentionMs: () => number = () => CLUSTER_DEFAULTS.ackRetentionMs,
    /** the Redis replicas a write must reach (the config in force: `cluster.redisWait…`) */
    private readonly durability: () => { replicas: number; timeoutMs: number } = () => ({
      replicas: CLUSTER_DEFAULTS.redisWaitReplicas,
      timeoutMs: CLUSTER_DEFAULTS.redisWaitTimeoutMs,
    }),
  ) {}

  /**
   * A cycle that could not run or finish says why in its report (`ok: false`, `error`) — also when the
   * site's Redis went away and the report cannot even be recorded.
   */
  async run(
    onProgress: (progress: CycleProgress) => void = () => undefined,
    verify: CycleVerify = 'full',
  ): Promise<CycleReport> {
    const started = Date.now();
    const report: CycleReport = {
      ok: true,
      error: null,
      durationMs: 0,
      pushed: 0,
      rejected: 0,
      pulled: 0,
      repaired: 0,
      at: new Date(started).toISOString(),
    };
    let pages = 0;
    /** what this cycle found DomainDB lost for good (`giveUp`): its error, whatever else fails after */
    const lost: Lost = {};
    const tick: Tick = (phase, pageDone = false) => {
      if (pageDone) pages += 1;
      onProgress({ phase, pages, objects: report.pushed + report.rejected + report.pulled });
    };
    try {
      // a cache of an older key layout is dropped (its queue kept) and reloaded below
      await this.store.ensureLayout();
      await this.store.ensureEpoch(randomUUID());
      await this.pushLosing(report, tick, lost);
      try {
        await this.pullAndVerify(report, tick, verify);
      } catch (err) {
        if (!(err instanceof LostRangeError)) throw err;
        // SPEC §11: the MDC lost what it acknowledged (a failover); push that range again, then resync.
        await this.repush(err.lastSeq, report, tick, lost);
        await this.pushLosing(report, tick, lost);
        await this.pullAndVerify(report, tick, verify, err.reload);
      }
    } catch (err) {
      report.ok = false;
      report.error = cycleError(err);
    }
    // Gone for good, though the site goes on: the cycle says so in its error (first, so that it is
    // counted as changes_lost), also when something after it failed.
    if (lost.message) {
      report.ok = false;
      report.error = report.error ? `${lost.message}; then: ${report.error}` : lost.message;
    }
    report.durationMs = Date.now() - started;
    tick('record');
    try {
      await this.record(report);
    } catch (err) {
      // SPEC §5: a store that went away is the cycle's error, not a crash of the job.
      if (!isRedisFailure(err)) throw err;
      report.ok = false;
      report.error = 'store_unavailable';
    }
    return report;
  }

  /** How acknowledged changes are kept now (SPEC §11: the config in force). */
  private keeping(): AckKeeping {
    return { now: Date.now(), retentionMs: this.ackRetentionMs(), max: ACKED_KEPT_MAX };
  }

  /**
   * Step 1, and a gap it meets because DomainDB lost acknowledged changes (SPEC §11): that range
   * pushed again from those the site keeps, then the queue.
   */
  private async pushLosing(report: CycleReport, tick: Tick, lost: Lost): Promise<void> {
    try {
      await this.push(report, tick);
    } catch (err) {
      if (!(err instanceof GapError) || err.expected > (await this.store.ackedThrough())) throw err;
      await this.repush(err.expected - 1, report, tick, lost);
      await this.push(report, tick);
    }
  }

  /**
   * SPEC §11 failover without loss: the acknowledged changes after `lastSeq` pushed again, in order.
   * DomainDB applies what it lost and answers what it still has with its first verdict (exactly
   * once); a change refused now is a rejection like any other. A range it no longer keeps is lost
   * for good (`giveUp`), said in `lost`.
   */
  private async repush(lastSeq: number, report: CycleReport, tick: Tick, lost: Lost): Promise<void> {
    const {
      meta: { epoch },
      ackedThrough: through,
    } = await this.store.pullState();
    let from = lastSeq;
    let repushed = 0;
    for (;;) {
      const entries = await this.store.ackedAfter(from, PUSH_BATCH, PUSH_MAX_BYTES);
      if (entries.length === 0 && from >= through) break;
      if (entries.length === 0 || entries[0].seq !== from + 1) {
        this.logRepushed(repushed, epoch!, lastSeq, from);
        await this.giveUp(epoch!, from, entries.length === 0 ? through : entries[0].seq - 1, lost);
        return;
      }
      // one refused at first goes with its code: DomainDB records that refusal, never applies it
      const changes = entries.map(({ seq, change, actor, at, refused }) =>
        refused ? { seq, change, actor, at, refused } : { seq, change, actor, at },
      );
      const { verdicts } = await this.mdc.push({ epoch: epoch!, changes });
      const bySeq = new Map(verdicts.map((v) => [v.seq, v]));
      const plan = this.store.plan();
      for (const entry of entries) {
        const verdict = bySeq.get(entry.seq);
        if (!verdict || verdict.status === 'gap' || verdict.status === 'reused')
          throw new GapError(entry.seq, verdict?.status === 'gap' ? verdict.expected : from + 1);
        from = entry.seq;
        if (verdict.replayed) continue;
        repushed += 1;
        // its rejection is in the log already
        if (entry.refused) continue;
        // applied at first, refused now: it lost to a write made since the failover
        if (verdict.status === 'rejected') {
          report.rejected += 1;
          plan.recordRejection(JSON.stringify(rejectionOf(entry, verdict)), REJECTIONS_KEPT);
        } else report.pushed += 1;
      }
      if (plan.ops.length > 0) await this.store.commit(plan, false);
      tick('push', true);
    }
    this.logRepushed(repushed, epoch!, lastSeq, from);
  }

  private logRepushed(repushed: number, epoch: string, lastSeq: number, through: number): void {
    if (repushed > 0)
      this.log.warn(
        `DomainDB had lost ${repushed} acknowledged changes of epoch ${epoch} after seq ${lastSeq} ` +
          `(a failover); pushed again through seq ${through}`,
      );
  }

  /**
   * SPEC §11: DomainDB lost seqs `after + 1` to `to` of `epoch`, which this site no longer keeps —
   * gone for good, and no later seq of the epoch can reach DomainDB past the hole. The site goes on
   * under a new epoch rather than wait for someone (a site never stops): the acknowledged changes it
   * keeps after the hole, but those refused at first, head the renumbered queue (DomainDB lost them
   * too), and `/sync/status` says what was lost until the next such loss; so does `lost`, for the
   * cycle's error.
   */
  private async giveUp(epoch: string, after: number, to: number, lost: Lost): Promise<void> {
    const next = randomUUID();
    const loss: Omit<ChangesLost, 'requeued'> = {
      epoch,
      fromSeq: after + 1,
      toSeq: to,
      newEpoch: next,
      at: new Date().toISOString(),
    };
    const done = await this.store.restartEpoch(next, epoch, {
      carryAfter: to,
      record: ['lostChanges', JSON.stringify(loss)],
    });
    if (done === 'conflict') throw new Error(`the site's epoch moved on from ${epoch} under this cycle`);
    lost.message =
      `changes_lost: DomainDB lost seqs ${after + 1} to ${to} of epoch ${epoch}, acknowledged longer ago ` +
      `than this site keeps them (cluster.ackRetentionMs); the ${done.carried} acknowledged after them ` +
      `that it kept are queued again under epoch ${next}`;
    this.log.error(lost.message);
    await this.confirmEpoch(next);
  }

  /**
   * Nothing is pushed under a new epoch before the Redis replicas the config asks for have it
   * (SPEC §11 `redisWaitReplicas`): a Redis failover that lost the renumbering would put the site
   * back under the old epoch, to renumber — and push — the same changes again under a third one,
   * and the MDC would apply them twice. Short: the cycle stops here; the next one pushes under the
   * new epoch if it is still in force, or decides again from what the Redis has.
   */
  private async confirmEpoch(epoch: string): Promise<void> {
    const { replicas, timeoutMs } = this.durability();
    if (replicas <= 0) return;
    const reached = await this.store.confirmReplicas(replicas, timeoutMs).catch(() => 0);
    if (reached < replicas)
      throw new Error(
        `the new epoch ${epoch} reached ${reached} of the ${replicas} Redis replicas cluster.redisWaitReplicas asks for in time: nothing pushed under it yet`,
      );
  }

  /**
   * Step 1: the queued changes in order, in batches, until what was queued when it began is pushed
   * (writes made meanwhile go in the next cycle, which they asked for). A batch's dequeue
   * commits while the next batch is at the MDC: a crash between the two re-sends what was not
   * dequeued, and the MDC answers it with its first verdict (SPEC §7 exactly once).
   */
  private async push(report: CycleReport, tick: Tick): Promise<void> {
    tick('push');
    let { epoch } = await this.store.meta();
    let window = await this.store.queueWindow(0, PUSH_BATCH, PUSH_MAX_BYTES);
    // What was queued when the push began, and no more: a write made meanwhile asked for a cycle of
    // its own (`pushSoon`), so steady local writes never keep this one from its resync (SPEC §8: a
    // write elsewhere is visible here within 1 s, also while this site is busy writing).
    let left = window.remaining;
    let dequeued: Promise<unknown> = Promise.resolve();
    try {
      while (window.entries.length > 0) {
        const head = window.entries;
        const changes = head.map(({ seq, change, actor, at }) => ({ seq, change, actor, at }));
        const pushedUnder = epoch!;
        const { verdicts } = await this.mdc.push({
          epoch: pushedUnder,
          changes,
          queueLength: window.remaining,
        });
        // The batch before is off the queue now, so this one is its head.
        await dequeued;
        // A seq the MDC holds for another change: this Redis went back in time (a failover to a replica
        // that had not received the tail of what was queued and pushed), and its new changes got seqs
        // the MDC holds for others. Nothing from it on was applied; what came before is answered; the
        // rest of the queue goes on under a new epoch, from seq 1 (SPEC §7, §11), in the next round.
        const reused = verdicts.find((v) => v.status === 'reused');
        const answered = reused ? head.filter((e) => e.seq < reused.seq) : head;
        if (reused) {
          epoch = randomUUID();
          this.log.warn(
            `the MDC already holds seq ${reused.seq} of this site's epoch, for another change (this Redis went back in time: a failover lost changes already pushed): the queue goes on under epoch ${epoch}`,
          );
        }
        const bySeq = new Map(verdicts.map((v) => [v.seq, v]));
        const plan = this.store.plan();
        const decided: AckedEntry[] = [];
        for (const entry of answered) {
          const verdict = bySeq.get(entry.seq);
          if (!verdict || verdict.status === 'gap' || verdict.status === 'reused') break;
          decided.push(verdict.status === 'rejected' ? { ...entry, refused: verdict.code } : entry);
          if (verdict.status === 'rejected') {
            report.rejected += 1;
            plan.recordRejection(JSON.stringify(rejectionOf(entry, verdict)), REJECTIONS_KEPT);
          } else report.pushed += 1;
        }
        plan.dequeueDecided(decided, this.keeping()).setStatus('lastPushAt', new Date().toISOString());
        // only under the epoch it pushed: a cycle whose lock lapsed while another renumbered the queue
        // under a new one must not take that queue's head
        plan.epoch = pushedUnder;
        // Read behind this batch before its dequeue commits; only a cycle takes from the queue's head,
        // and one runs at a time: no generation check needed. Nor a WAIT (SPEC §11 redisWaitReplicas):
        // a dequeue a Redis failover loses only makes the site push the batch again, which the MDC
        // answers with its first verdicts (SPEC §7 exactly once).
        left -= decided.length;
        window =
          decided.length === head.length && left > 0
            ? await this.store.queueWindow(head.length, Math.min(PUSH_BATCH, left), PUSH_MAX_BYTES)
            : { entries: [], remaining: 0 };
        dequeued = this.store.commit(plan, false).then((result) => {
          if (result !== 'ok')
            throw new Error(`the queue moved to another epoch than ${pushedUnder} under this cycle`);
        });
        dequeued.catch(() => undefined); // awaited before the next batch's verdicts are taken, or below
        tick('push', true);
        if (reused) {
          await dequeued;
          if ((await this.store.restartEpoch(epoch!, pushedUnder)) === 'conflict')
            throw new Error(`the site's epoch moved on from ${pushedUnder} under this cycle`);
          await this.confirmEpoch(epoch!);
          // what is left of what was queued when the push began heads the renumbered queue
          window =
            left > 0
              ? await this.store.queueWindow(0, Math.min(PUSH_BATCH, left), PUSH_MAX_BYTES)
              : { entries: [], remaining: 0 };
        } else if (decided.length < head.length) {
          const { seq } = head[decided.length];
          const verdict = bySeq.get(seq);
          throw new GapError(seq, verdict?.status === 'gap' ? verdict.expected : seq);
        }
      }
    } finally {
      await dequeued;
    }
  }

  /** Step 2: MDC-authoritative resync — the log since the cursor, then the manifest. */
  /** SPEC §8: the site has pulled the MDC's log through `version` already (a signal it need not act on). */
  async pulledThrough(version: string): Promise<boolean> {
    const meta = await this.store.meta();
    return meta.loaded && atOrPast(meta.cursor, version);
  }

  private async pullAndVerify(
    report: CycleReport,
    tick: Tick,
    verify: CycleVerify,
    /** the MDC asked for a reload on a page a lost range cut short */
    reload = false,
  ): Promise<void> {
    tick('pull');
    const { meta, ackedThrough, oldestAck } = await this.store.pullState();
    const keeping = this.keeping();
    // an idle site trims what it keeps too (the dequeue trims as it goes)
    if (oldestAck !== null && oldestAck < keeping.now - keeping.retentionMs)
      await this.store.commit(this.store.plan().trimAcked(keeping), false);
    let cursor = await this.pullLog(
      meta.loaded && !reload ? meta.cursor : await this.reload(report, tick),
      report,
      tick,
      { epoch: meta.epoch, acked: ackedThrough },
    );
    tick('verify');
    const scrubbed = verify === 'full' ? await this.resync.scrub(SCRUB_BUDGET) : [];
    let root = await this.mdc.manifest(false);
    // The log moved on since the pull (writes keep landing): pull that first rather than take a
    // difference the log is about to bring for one to repair.
    for (let again = 0; again < 2 && atOrPast(root.version, cursor) && root.version !== cursor; again++) {
      cursor = await this.pullLog(cursor, report, tick, { epoch: meta.epoch, acked: 0 });
      root = await this.mdc.manifest(false);
    }
    if (root.root !== (await this.resync.localRoot()) || scrubbed.length > 0) {
      const { load, differ, unscope } = await this.resync.compare(await this.mdc.manifest(true));
      // SPEC §8 scale: a difference narrowed from the root to domains to buckets; only those move.
      const slices: Array<{ domain: string; buckets: number[] }> = [];
      for (let i = 0; i < differ.length; i += MAX_MANIFEST_BUCKET_DOMAINS) {
        const part = differ.slice(i, i + MAX_MANIFEST_BUCKET_DOMAINS);
        const { buckets = [] } = await this.mdc.manifest(false, part);
        slices.push(...(await this.resync.differingBuckets(buckets)));
      }
      for (const part of bySize(slices)) await this.load({ kind: 'slices', slices: part }, report, tick);
      for (let i = 0; i < load.length; i += MAX_MANIFEST_BUCKET_DOMAINS) {
        const domains = load.slice(i, i + MAX_MANIFEST_BUCKET_DOMAINS);
        await this.load({ kind: 'domains', domains }, report, tick);
      }
      await this.resync.unscope(unscope);
      report.repaired += differ.length + load.length + unscope.length;
    }
    await this.store.commit(this.store.plan().setStatus('lastResyncAt', new Date().toISOString()), false);
  }

  /**
   * The change log from `cursor` page by page (the next page fetched while this one is applied).
   * Each pull tells the MDC the queue's length now, after the push (SPEC §10: /cluster/status fresh),
   * and the site's epoch: the first page says what DomainDB has decided of it, which must not be less
   * than the highest seq the site saw `acked` (SPEC §11).
   */
  private async pullLog(
    from: string,
    report: CycleReport,
    tick: Tick,
    { epoch, acked }: { epoch: string | undefined; acked: number },
  ): Promise<string> {
    let cursor = from;
    const queueLength = await this.store.queueLength();
    // the first page says what DomainDB has decided of the epoch, when the site keeps anything acknowledged
    for (let next = this.mdc.pull({ cursor, queueLength, ...(acked > 0 ? { epoch } : {}) }); ;) {
      const page = await next;
      // SPEC §11: before anything of the page (a reload, say) — DomainDB lost what it acknowledged.
      if (page.lastSeq !== undefined && page.lastSeq < acked)
        throw new LostRangeError(page.lastSeq, acked, page.reload);
      acked = 0;
      if (page.reload) {
        cursor = await this.reload(report, tick);
        next = this.mdc.pull({ cursor, queueLength });
        continue;
      }
      // its failure (handled here) is the cycle's only if the loop gets to it
      if (page.more) {
        next = this.mdc.pull({ cursor: page.cursor, queueLength });
        next.catch(() => undefined);
      }
      report.pulled += await this.resync.applyPulled(page.changes, page.cursor);
      cursor = page.cursor;
      tick('pull', true);
      if (!page.more) return cursor;
    }
  }

  /** A paged snapshot streamed into the cache (SPEC §8); returns the version to pull on from. */
  private async load(request: LoadRequest, report: CycleReport, tick: Tick): Promise<string> {
    const loading = new SnapshotLoad(this.store, (req) => this.mdc.snapshot(req), request, this.snapshotPage);
    const outcome = await loading.run((entities) => {
      report.pulled += entities;
      tick('pull', true);
    });
    return outcome.version;
  }

  /**
   * A full reload (a first start, a cache that lost its data, a cursor past the MDC's retention):
   * the whole scope streamed in, then the log pulled from the first page's version.
   */
  private async reload(report: CycleReport, tick: Tick): Promise<string> {
    const version = await this.load({ kind: 'reload' }, report, tick);
    await this.store.commit(this.store.plan().setMeta('loaded', '1').setMeta('cursor', version), false);
    return version;
  }

  private async record(report: CycleReport): Promise<void> {
    await this.store.commit(this.store.plan().setStatus('lastCycle', JSON.stringify(report)), false);
  }
}

/** Bucket slices in requests of at most 16384 buckets and 1000 domains (a request body stays ≈ 100 KB). */
function bySize(slices: Array<{ domain: string; buckets: number[] }>) {
  const parts: Array<Array<{ domain: string; buckets: number[] }>> = [];
  let part: Array<{ domain: string; buckets: number[] }> = [];
  let size = 0;
  for (const slice of slices) {
    if (
      part.length > 0 &&
      (size + slice.buckets.length > 16384 || part.length >= MAX_MANIFEST_BUCKET_DOMAINS)
    ) {
      parts.push(part);
      part = [];
      size = 0;
    }
    part.push(slice);
    size += slice.buckets.length;
  }
  if (part.length > 0) parts.push(part);
  return parts;
}

/** Change-log versions are the MDC's counter; one that is not a number is never taken as pulled. */
function atOrPast(cursor: string, version: string): boolean {
  try {
    return BigInt(cursor) >= BigInt(version);
  } catch {
    return false;
  }
}

/**
 * What `lastCycle.error` says (SPEC §5): `mdc_unreachable` when the MDC could not be reached (the
 * site keeps working alone), `mdc_failed: …` when it was reached and failed the call,
 * `store_unavailable` when the site's own Redis could not be, else the error's message.
 */
function cycleError(err: unknown): string {
  if (err instanceof MdcUnreachableError || err instanceof SiteUnreachableError) return 'mdc_unreachable';
  if (err instanceof MdcFailedError) return `mdc_failed: ${err.message}`;
  return isRedisFailure(err) ? 'store_unavailable' : messageOf(err);
}

function rejectionOf(entry: QueueEntry, verdict: PushVerdict & { status: 'rejected' }): Rejection {
  const c = entry.change;
  return {
    seq: entry.seq,
    op: c.op,
    target: targetPath(c),
    reason: verdict.code,
    message: verdict.message,
    at: new Date().toISOString(),
    change: c,
    actor: entry.actor,
    winner: verdict.winner,
  };
}
