import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { canonicalJson, type JsonValue } from '@dd/directory';
import type { EntityManager } from 'typeorm';
import type { PushRequest, PushResponse, PushVerdict, QueuedChange } from '@dd/sync-protocol';
import { dataRefusal } from '../database/data-errors';
import { ApplyChanges, Screen } from '../directory/apply-changes';
import { DirectoryStore } from '../directory/directory.store';
import { MdcMetrics } from '../ops/mdc.metrics';
import { PushLedgerStore } from './push-ledger.store';
import { PushScope } from './push-scope';

/** One push as the service works on it: the site's changes in seq order and the scope they must keep to. */
interface Batch {
  site: string;
  epoch: string;
  changes: QueuedChange[];
  inScope: Screen;
  /** what the site reported of its queue (SPEC §5 /cluster/status) */
  queueLength: number | undefined;
}

/**
 * What a pushed change is, for telling a re-sent change from another given the same seq (SPEC §7,
 * §11): a hash of its canonical JSON with its actor and time.
 */
function fingerprint(c: QueuedChange): string {
  const { seq: _seq, refused: _refused, ...what } = c;
  return createHash('sha256')
    .update(canonicalJson(what as unknown as JsonValue))
    .digest('base64url')
    .slice(0, 22);
}

/** The change at a decided seq is not the one DomainDB decided there (verdicts from before fingerprints: never). */
function isReuse(first: PushVerdict | undefined, c: QueuedChange): boolean {
  const fp = (first as { fp?: string } | undefined)?.fp;
  return fp !== undefined && fp !== fingerprint(c);
}

/** Thrown to roll back a probe's transaction once it has run. */
class ProbeDone extends Error {}

/**
 * SPEC §7: one pushed batch in one transaction. Changes at or below the (site, epoch) high-water mark
 * are answered with their first verdict and not applied again; the contiguous run after it is
 * applied in seq order; a seq that skips ahead is refused as a gap with everything after it.
 * SPEC §9: a change outside the site's scope is refused as `forbidden` before the rules see it.
 */
@Injectable()
export class PushService {
  constructor(
    private readonly store: DirectoryStore,
    private readonly ledger: PushLedgerStore,
    private readonly applier: ApplyChanges,
    private readonly metrics: MdcMetrics,
    private readonly scope: PushScope,
  ) {}

  async push(site: string, request: PushRequest): Promise<PushResponse> {
    const timer = this.metrics.pushDuration.startTimer();
    const batch: Batch = {
      site,
      epoch: request.epoch,
      changes: [...request.changes].sort((a, b) => a.seq - b.seq),
      inScope: await this.scope.screenFor(site, Date.now()),
      queueLength: request.queueLength,
    };
    /** seq → what PostgreSQL refused in that change */
    const poisoned = new Map<number, string>();
    let response: PushResponse | undefined;
    while (response === undefined) {
      try {
        response = await this.store.transaction((tx) => this.decide(tx, batch, poisoned));
      } catch (err) {
        // What a change holds never fails the push (SPEC §7: a refusal never blocks the queue): find
        // the change PostgreSQL refused, answer it `validation_failed`, and apply the rest again.
        if (dataRefusal(err) === undefined) throw err;
        const poison = await this.findPoison(batch, poisoned);
        if (poison === undefined || poisoned.has(poison.seq)) throw err;
        poisoned.set(poison.seq, poison.message);
      }
    }
    timer();
    for (const v of response.verdicts) {
      const label =
        v.status === 'gap' || v.status === 'reused' ? v.status : v.replayed ? 'replayed' : v.status;
      this.metrics.pushedChanges.inc({ site, verdict: label });
    }
    return response;
  }

  /** The push's work in `tx`, for the batch's first `length` changes (all of them but in a probe). */
  private async decide(
    tx: EntityManager,
    batch: Batch,
    poisoned: ReadonlyMap<number, string>,
    length = batch.changes.length,
  ): Promise<PushResponse> {
    const { site, epoch } = batch;
    const changes = batch.changes.slice(0, length);
    const head = await this.store.lockHead(tx);
    const lastSeq = await this.ledger.lastSeq(tx, site, epoch);
    const first = await this.ledger.firstVerdicts(
      tx,
      site,
      epoch,
      changes.filter((c) => c.seq <= lastSeq).map((c) => c.seq),
    );
    // SPEC §7, §11: a seq DomainDB holds for another change (its fingerprint differs) was given again
    // by a Redis that went back in time: it and everything after it are left undecided.
    const reused = changes.find((c) => c.seq <= lastSeq && isReuse(first.get(c.seq), c));
    const replays = changes.filter((c) => c.seq <= lastSeq && (!reused || c.seq < reused.seq));
    const fresh: QueuedChange[] = [];
    for (const c of reused ? [] : changes) {
      if (c.seq === lastSeq + fresh.length + 1) fresh.push(c);
      else if (c.seq > lastSeq) break;
    }
    const expected = lastSeq + fresh.length + 1;
    const gaps = changes.filter((c) => c.seq >= expected && !reused);

    const firstRefusals = new Map(fresh.flatMap((c) => (c.refused ? [[c.seq, c.refused] as const] : [])));
    const screen: Screen = (submission, stored) => {
      // SPEC §11: a change refused at first, whose verdict a failover lost, stays refused.
      const first = firstRefusals.get(submission.seq!);
      if (first !== undefined)
        return {
          ok: false,
          code: first,
          message: `refused at first (${first}); its verdict was lost and is kept`,
          winner: null,
        };
      const refused = poisoned.get(submission.seq!);
      if (refused === undefined) return batch.inScope(submission, stored);
      return { ok: false, code: 'validation_failed', message: refused, winner: null };
    };
    const outcomes = await this.applier.applyLocked(
      tx,
      head,
      site,
      epoch,
      fresh.map((c) => ({ change: c.change, actor: c.actor, seq: c.seq })),
      screen,
    );
    const decided: PushVerdict[] = fresh.map((c, i) => {
      const { verdict, version } = outcomes[i];
      return verdict.ok
        ? { seq: c.seq, status: 'applied', version: version!, replayed: false }
        : {
            seq: c.seq,
            status: 'rejected',
            code: verdict.code,
            message: verdict.message,
            winner: verdict.winner,
            replayed: false,
          };
    });
    const prints = new Map(fresh.map((c) => [c.seq, fingerprint(c)]));
    await this.ledger.record(
      tx,
      site,
      epoch,
      decided.map((v) => ({ ...v, fp: prints.get(v.seq) })),
      lastSeq + fresh.length,
      batch.queueLength,
    );
    const replayed: PushVerdict[] = replays.map((c) => {
      const v = first.get(c.seq);
      // A verdict older than the ledger's retention: the change was decided long ago; never apply it again.
      if (!v || v.status === 'gap' || v.status === 'reused')
        return { seq: c.seq, status: 'applied', version: '0', replayed: true };
      const { fp: _fp, ...verdict } = v as typeof v & { fp?: string };
      return { ...verdict, replayed: true };
    });
    const verdicts = [
      ...replayed,
      ...(reused ? [{ seq: reused.seq, status: 'reused' } as const] : []),
      ...decided,
      ...gaps.map((c): PushVerdict => ({ seq: c.seq, status: 'gap', expected })),
    ];
    return { verdicts, lastSeq: lastSeq + fresh.length };
  }

  /**
   * The change whose content PostgreSQL refuses: the last of the shortest failing prefix of the
   * batch (the rules decide a prefix as they decide it within the whole batch), found by bisection
   * with transactions that are rolled back. Undefined when the whole batch no longer fails.
   */
  private async findPoison(
    batch: Batch,
    poisoned: ReadonlyMap<number, string>,
  ): Promise<{ seq: number; message: string } | undefined> {
    let passes = 0;
    let fails = batch.changes.length;
    let message = await this.probe(batch, poisoned, fails);
    if (message === undefined) return undefined;
    while (fails - passes > 1) {
      const mid = (passes + fails) >> 1;
      const refused = await this.probe(batch, poisoned, mid);
      if (refused === undefined) passes = mid;
      else [fails, message] = [mid, refused];
    }
    return { seq: batch.changes[fails - 1].seq, message };
  }

  /** Runs the batch's first `length` changes and rolls back: what PostgreSQL refused, if anything. */
  private async probe(
    batch: Batch,
    poisoned: ReadonlyMap<number, string>,
    length: number,
  ): Promise<string | undefined> {
    try {
      await this.store.transaction(async (tx) => {
        await this.decide(tx, batch, poisoned, length);
        throw new ProbeDone();
      });
    } catch (err) {
      if (err instanceof ProbeDone) return undefined;
      const refused = dataRefusal(err);
      if (refused === undefined) throw err;
      return refused;
    }
    return undefined;
  }
}
