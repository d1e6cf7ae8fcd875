import { randomUUID } from 'node:crypto';
import { BatchLedger, Change, decide, DirectoryOverlay, touchedDomains, Verdict } from '@dd/directory';
import type { LoadedCache, QueueEntry, SiteCacheStore } from '../cache/site-cache.store';
import { CacheLedger } from '../cache/cache-ledger';
import type { CachePlan } from '../cache/cache-plan';
import { backoff, CacheLock } from '../cache/cache-lock';

export class QueueFullError extends Error {
  constructor(readonly capacity: number) {
    super(`the submit queue holds ${capacity} changes; writes resume as it drains`);
  }
}

/** The MDC version a local change starts from: what an object carried before any pending change. */
export function baseVersion(version: string): string {
  const plus = version.indexOf('+');
  return plus < 0 ? version : version.slice(0, plus);
}

/** SPEC §3: `<mdc version>+<site>.<seq>` until the resync brings the MDC's own. */
export function provisionalVersion(base: string, site: string, seq: number): string {
  return `${base}+${site}.${seq}`;
}

/** A view the rules read, with the full objects it holds (the base a batch's final states start from). */
export type LoadedState = Pick<LoadedCache, 'view' | 'domains' | 'entities'>;

export interface LocalWriteResult {
  verdict: Verdict;
  entry?: QueueEntry;
}

const MAX_ATTEMPTS = 50;

/**
 * SPEC §6 steps 1–2 at a work site: validate the change against the cache with the same pure
 * rules the MDC applies, then apply it to the cache and append it to the submit queue in one atomic
 * step. Another writer (a replica, the sync cycle) moving the cache in between makes the step fail
 * as a whole and it is decided again.
 */
export class LocalWrites {
  constructor(
    private readonly store: SiteCacheStore,
    private readonly site: string,
    private readonly masterDomain: () => string,
    private readonly capacity: () => number,
    readonly lock = new CacheLock(),
  ) {}

  submit(change: Change, actor: string, ifMatch?: string): Promise<LocalWriteResult> {
    return this.lock.run(() => this.submitNow(change, actor, ifMatch));
  }

  private async submitNow(change: Change, actor: string, ifMatch?: string): Promise<LocalWriteResult> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (attempt > 0) await backoff(attempt);
      const meta = await this.store.meta();
      // SPEC §7: a queue state that is new (a Redis that lost its data) gets a new epoch first.
      if (!meta.epoch) {
        await this.store.ensureEpoch(randomUUID());
        continue;
      }
      const loaded = await this.store.loadFor([change], change.op === 'domain.delete' ? [change.name] : []);
      const seq = meta.seq + 1;
      const at = new Date().toISOString();
      const verdict = decide(loaded.view, change, { masterDomain: this.masterDomain(), ifMatch });
      if (!verdict.ok) return { verdict };
      const version = provisionalVersion(this.startingVersion(change, loaded, meta.cursor), this.site, seq);
      const plan = this.store.plan();
      const ledger = await this.effectsInto(plan, loaded, [{ change, version }], at);
      const entry: QueueEntry = {
        seq,
        change,
        actor,
        at,
        version,
        ids: [...ledger.domains.keys(), ...ledger.entities.keys()],
        domains: touchedDomains(ledger),
      };
      plan.markPending(entry.ids, entry.domains, 1);
      plan.enqueue(JSON.stringify(entry), this.capacity());
      plan.setMeta('seq', String(seq));
      // The generation read with `seq` (one HGETALL): any commit since then, ours or a replica's, fails this one.
      const result = await this.store.commit(plan, meta.gen);
      if (result === 'ok') return { verdict, entry };
      if (result === 'queue_full') throw new QueueFullError(this.capacity());
    }
    throw new Error(`the cache kept moving under a write (${MAX_ATTEMPTS} attempts)`);
  }

  /**
   * SPEC §8: queued changes decided in order over `base` (e.g. a reload's snapshot), each seeing the
   * ones before it, with their provisional versions. A change the rules now refuse is left for the
   * MDC to decide.
   */
  decideOver(
    base: LoadedState,
    entries: Array<{ change: Change; version: string }>,
    at: string,
  ): BatchLedger {
    const overlay = new DirectoryOverlay(base.view);
    const batch = new BatchLedger(base, overlay);
    for (const { change, version } of entries) {
      const verdict = decide(overlay, change, { masterDomain: this.masterDomain() });
      if (!verdict.ok) continue;
      overlay.apply(verdict.effects, version, at);
      for (const e of verdict.effects) batch.record(e, version, at);
    }
    return batch;
  }

  /** Decides each change in order over the loaded state and adds the writes of the accepted ones. */
  private async effectsInto(
    plan: CachePlan,
    loaded: LoadedCache,
    changes: Array<{ change: Change; version: string }>,
    at: string,
  ): Promise<CacheLedger> {
    const batch = this.decideOver(loaded, changes, at);
    const ledger = new CacheLedger();
    for (const t of batch.domains.values()) {
      if (t.deleted) ledger.deleteDomain(t.after);
      else ledger.putDomain(t.before, t.after, true);
    }
    for (const t of batch.entities.values()) {
      if (t.deleted) ledger.deleteEntity(t.after);
      else ledger.putEntity(t.before, t.after);
    }
    await ledger.writeTo(plan, this.store);
    return ledger;
  }

  private startingVersion(change: Change, loaded: LoadedCache, cursor: string): string {
    const current = change.op.startsWith('domain.')
      ? loaded.domains.get(change.id)
      : loaded.entities.get(change.id);
    return current ? baseVersion(current.version) : cursor;
  }
}
