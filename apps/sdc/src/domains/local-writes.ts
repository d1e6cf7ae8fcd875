import { randomUUID } from 'node:crypto';
import { Change, decideInOrder, isDomainChange, touchedDomains, Verdict } from '@dd/directory';
import { QueueFullError } from '@dd/admin-api';
import { CacheLedger } from '../cache/cache-ledger';
import type { LoadedCache, QueueEntry, SiteCacheStore } from '../cache/site-cache.store';

/** The MDC version a local change starts from: what an object carried before any pending change. */
export function baseVersion(version: string): string {
  const plus = version.indexOf('+');
  return plus < 0 ? version : version.slice(0, plus);
}

/** SPEC §3: `<mdc version>+<site>.<seq>` until the resync brings the MDC's own. */
export function provisionalVersion(base: string, site: string, seq: number): string {
  return `${base}+${site}.${seq}`;
}

export interface LocalWriteResult {
  verdict: Verdict;
  entry?: QueueEntry;
}

/**
 * SPEC §6 steps 1–2 at a work site: validate the change against the cache with the same pure
 * rules the MDC applies, then apply it to the cache and append it to the submit queue in one atomic
 * step (`SiteCacheStore.commit`, one Lua script). Another writer (a replica, the sync cycle) moving
 * the cache in between makes the step fail as a whole and it is decided again.
 */
export class LocalWrites {
  constructor(
    private readonly store: SiteCacheStore,
    private readonly site: string,
    private readonly masterDomain: () => string,
    private readonly capacity: () => number,
  ) {}

  /** A refused verdict comes back as it is; a full queue throws `QueueFullError` (SPEC §6). */
  submit(change: Change, actor: string, ifMatch?: string): Promise<LocalWriteResult> {
    return this.store.step('a local write', async () => {
      const meta = await this.store.meta();
      // SPEC §7: a queue state that is new (a Redis that lost its data) gets a new epoch first.
      if (!meta.epoch) {
        await this.store.ensureEpoch(randomUUID());
        return null;
      }
      const loaded = await this.store.loadFor([change], change.op === 'domain.delete' ? [change.name] : []);
      const seq = meta.seq + 1;
      const at = new Date().toISOString();
      const version = provisionalVersion(this.startingVersion(change, loaded, meta.cursor), this.site, seq);
      const { decided, ledger: batch } = decideInOrder(
        loaded,
        [{ change, ifMatch }],
        { masterDomain: this.masterDomain() },
        () => version,
        at,
      );
      const { verdict } = decided[0];
      if (!verdict.ok) return { verdict };
      const ledger = CacheLedger.of(batch);
      const plan = this.store.plan();
      await ledger.writeTo(plan, this.store);
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
      if (result === 'queue_full') throw new QueueFullError(this.capacity());
      return result === 'ok' ? { verdict, entry } : null;
    });
  }

  private startingVersion(change: Change, loaded: LoadedCache, cursor: string): string {
    const current = isDomainChange(change) ? loaded.domains.get(change.id) : loaded.entities.get(change.id);
    return current ? baseVersion(current.version) : cursor;
  }
}
