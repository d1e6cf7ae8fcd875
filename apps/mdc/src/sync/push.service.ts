import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { PushRequest, PushResponse, PushVerdict, QueuedChange } from '@dd/sync-protocol';
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
}

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
    };
    const response = await this.store.transaction((tx) => this.decide(tx, batch));
    timer();
    for (const v of response.verdicts) {
      const label = v.status === 'gap' ? 'gap' : v.replayed ? 'replayed' : v.status;
      this.metrics.pushedChanges.inc({ site, verdict: label });
    }
    await this.ledger.notePush(site, request.epoch, response.lastSeq, request.queueLength);
    return response;
  }

  /** The push's work in `tx`. */
  private async decide(tx: EntityManager, batch: Batch): Promise<PushResponse> {
    const { site, epoch, changes } = batch;
    const head = await this.store.lockHead(tx);
    const lastSeq = await this.ledger.lastSeq(tx, site, epoch);
    const replays = changes.filter((c) => c.seq <= lastSeq);
    const fresh: QueuedChange[] = [];
    for (const c of changes) {
      if (c.seq === lastSeq + fresh.length + 1) fresh.push(c);
      else if (c.seq > lastSeq) break;
    }
    const expected = lastSeq + fresh.length + 1;
    const gaps = changes.filter((c) => c.seq >= expected);

    const first = await this.ledger.firstVerdicts(
      tx,
      site,
      epoch,
      replays.map((c) => c.seq),
    );
    const outcomes = await this.applier.applyLocked(
      tx,
      head,
      site,
      epoch,
      fresh.map((c) => ({ change: c.change, actor: c.actor, seq: c.seq })),
      batch.inScope,
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
    await this.ledger.record(tx, site, epoch, decided, lastSeq + fresh.length);
    const replayed: PushVerdict[] = replays.map((c) => {
      const v = first.get(c.seq);
      // A verdict older than the ledger's retention: the change was decided long ago; never apply it again.
      return v && v.status !== 'gap'
        ? { ...v, replayed: true }
        : { seq: c.seq, status: 'applied', version: '0', replayed: true };
    });
    const verdicts = [
      ...replayed,
      ...decided,
      ...gaps.map((c): PushVerdict => ({ seq: c.seq, status: 'gap', expected })),
    ];
    return { verdicts, lastSeq: lastSeq + fresh.length };
  }
}
