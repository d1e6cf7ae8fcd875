import { randomUUID } from 'node:crypto';
import { Change, decideInOrder, Domain, Effect, Entity, isDomainChange, Verdict, Write } from '@dd/directory';
import { GroupCommit, QueueFullError, StoreUnavailableError } from '@dd/admin-api';
import { CacheLedger } from '../cache/cache-ledger';
import type { LoadedCache, QueueEntry, SiteCacheStore, SiteMeta } from '../cache/site-cache.store';

/** The MDC version a local change starts from: what an object carried before any pending change. */
export function baseVersion(version: string): string {
  const plus = version.indexOf('+');
  return plus < 0 ? version : version.slice(0, plus);
}

/** SPEC §3: `<mdc version>+<site>.<seq>` until the resync brings the MDC's own. */
export function provisionalVersion(base: string, site: string, seq: number): string {
  return `${base}+${site}.${seq}`;
}

/** The most writes one atomic step takes (SPEC §6 group commit; a Lua script runs them all at once). */
export const MAX_WRITE_GROUP = 1000;

/** One write to apply locally and queue, as an admin asked for it. */
export interface LocalWrite {
  write: Write;
  actor: string;
  ifMatch?: string;
}

/** SPEC §11 (`cluster.redisWaitReplicas`, `redisWaitTimeoutMs`): what a local write waits for before its answer. */
export interface WriteDurability {
  /** Redis replicas that must have the group's commit (0: answered at once, asynchronous replication) */
  replicas: number;
  timeoutMs: number;
}

/** A group's commit reached fewer replicas than asked for in time (the writes stay applied and queued). */
export interface Unconfirmed {
  reached: number;
  wanted: number;
  timeoutMs: number;
}

export type LocalWriteResult =
  /** refused by the rules against the cache (nothing was written or queued) */
  | {
      verdict: Extract<Verdict, { ok: false }>;
      entry?: undefined;
      queueFull?: undefined;
      unconfirmed?: undefined;
    }
  /** applied and queued: its queue entry and its target as the write left it (undefined once deleted) */
  | {
      verdict: Extract<Verdict, { ok: true }>;
      entry: QueueEntry;
      after: Domain | Entity | undefined;
      queueFull?: undefined;
      /** set when the commit was not confirmed on the replicas asked for: answered 503, never rolled back */
      unconfirmed?: Unconfirmed;
    }
  /** SPEC §6: the queue was full; nothing of this write was applied */
  | { queueFull: true; verdict?: undefined; entry?: undefined; unconfirmed?: undefined };

/** What else a `LocalWrites` is told or asks (metrics, SPEC §11 durability). */
export interface LocalWritesOptions {
  /** told each group's size as it is flushed */
  onGroup?: (size: number) => void;
  /** the durability in force (read per group: the config reloads); default: none */
  durability?: () => WriteDurability;
  /** told how many accepted writes of a group were not confirmed on the replicas */
  onUnconfirmed?: (writes: number) => void;
}

/** SPEC §11: the 503 `store_unavailable` of a write kept here but not confirmed on the replicas asked for. */
export function unconfirmedError({ reached, wanted, timeoutMs }: Unconfirmed): StoreUnavailableError {
  return new StoreUnavailableError(
    `the write was kept locally and is queued for the MDC, but only ${reached} of ${wanted} Redis replicas confirmed it within ${timeoutMs} ms`,
  );
}

type Item = LocalWrite & { change: Write; index: number };

/**
 * SPEC §6 steps 1–2 at a work site, with group commit: the writes that arrive while one atomic step
 * is in flight are decided together, in arrival order, with the same pure rules the MDC applies, and
 * land in the next single step (`SiteCacheStore.commit`, one Lua script) — the cache changed and
 * every accepted write queued with its own seq. A step reads the cache once for its whole group
 * (a fixed number of round trips); another writer (a replica, the sync cycle) moving the cache in
 * between makes the step fail as a whole, and the group is decided again.
 */
export class LocalWrites {
  private readonly group: GroupCommit<LocalWrite, LocalWriteResult>;

  constructor(
    private readonly store: SiteCacheStore,
    private readonly site: string,
    private readonly masterDomain: () => string,
    private readonly capacity: () => number,
    private readonly options: LocalWritesOptions = {},
  ) {
    this.group = new GroupCommit((writes) => this.commitGroup(writes), MAX_WRITE_GROUP, options.onGroup);
  }

  /**
   * One write; a refused verdict comes back as it is, a full queue throws `QueueFullError` (SPEC §6),
   * a commit the replicas did not confirm `StoreUnavailableError` (SPEC §11).
   */
  async submit(
    write: Write,
    actor: string,
    ifMatch?: string,
  ): Promise<Exclude<LocalWriteResult, { queueFull: true }>> {
    const result = await this.group.submit({ write, actor, ifMatch });
    if (result.queueFull) throw new QueueFullError(this.capacity());
    if (result.unconfirmed) throw unconfirmedError(result.unconfirmed);
    return result;
  }

  /** SPEC §4 `submitQueueCapacity`, as configured now. */
  queueCapacity(): number {
    return this.capacity();
  }

  /** Several writes, in order, each with its own result (a full queue is a result here, not a throw). */
  submitAll(writes: LocalWrite[]): Promise<LocalWriteResult[]> {
    return this.group.submitAll(writes);
  }

  /** The same, each settled on its own (a store failure fails only the writes of its group). */
  submitEach(writes: LocalWrite[]): Promise<Array<PromiseSettledResult<LocalWriteResult>>> {
    return this.group.submitEach(writes);
  }

  /**
   * SPEC §11: with `redisWaitReplicas` N > 0, a group is answered once its commit reached N replicas
   * — one WAIT per group, after the step (the cycle's steps do not wait behind it). Short of N in
   * time, the group's accepted writes are answered 503 but stay applied and queued (never rolled
   * back: a replica may have them, and they are pushed all the same).
   */
  private async commitGroup(writes: LocalWrite[]): Promise<LocalWriteResult[]> {
    const results = await this.decideAndCommit(writes);
    const { replicas, timeoutMs } = this.options.durability?.() ?? { replicas: 0, timeoutMs: 0 };
    const accepted = results.filter((r) => r.entry).length;
    if (replicas === 0 || accepted === 0) return results;
    // A WAIT that fails (Redis went away) confirms nothing: the commit itself went through.
    const reached = await this.store.confirmReplicas(replicas, timeoutMs).catch(() => 0);
    if (reached >= replicas) return results;
    this.options.onUnconfirmed?.(accepted);
    const unconfirmed: Unconfirmed = { reached, wanted: replicas, timeoutMs };
    return results.map((r) => (r.entry ? { ...r, unconfirmed } : r));
  }

  private decideAndCommit(writes: LocalWrite[]): Promise<LocalWriteResult[]> {
    return this.store.step('local writes', async () => {
      const { meta, queueLength } = await this.store.writeState();
      // SPEC §7: a queue state that is new (a Redis that lost its data) gets a new epoch first.
      if (!meta.epoch) {
        await this.store.ensureEpoch(randomUUID());
        return null;
      }
      const loaded = await this.store.loadFor(
        writes.map((w) => w.write),
        writes.flatMap((w) => (w.write.op === 'domain.delete' ? [w.write.name] : [])),
      );
      const results: Array<LocalWriteResult | undefined> = writes.map((w) => {
        const refusal = unserved(w.write, loaded);
        return refusal ? { verdict: refusal } : undefined;
      });
      const items: Item[] = writes.flatMap((w, i) =>
        results[i] ? [] : [{ ...w, change: w.write, index: i }],
      );
      const at = new Date().toISOString();
      let { decided, ledger } = this.decide(loaded, items, meta, at);
      // SPEC §6: the queue takes what fits; the first write past it, and every later one, is refused.
      const room = this.capacity() - queueLength;
      const accepted = decided.flatMap((d, i) => (d.verdict.ok ? [i] : []));
      if (accepted.length > room) {
        const fits = accepted[Math.max(room, 0)];
        for (const item of items.slice(fits)) results[item.index] = { queueFull: true };
        ({ decided, ledger } = this.decide(loaded, items.slice(0, fits), meta, at));
      }
      const plan = this.store.plan();
      let seq = meta.seq;
      for (const { item, verdict, change, version, after } of decided) {
        if (!verdict.ok) {
          results[item.index] = { verdict };
          continue;
        }
        const entry: QueueEntry = {
          seq: ++seq,
          change: change!,
          actor: item.actor,
          at,
          version: version!,
          ids: [...new Set(verdict.effects.map(effectId))],
          domains: [...new Set(verdict.effects.map(effectDomain))],
        };
        plan.markPending(entry.ids, entry.domains, 1);
        plan.enqueue(JSON.stringify(entry), this.capacity());
        results[item.index] = { verdict, entry, after };
      }
      if (seq > meta.seq) {
        await CacheLedger.of(ledger).writeTo(plan, this.store);
        plan.setMeta('seq', String(seq));
        // The generation read with `seq` (one pipeline): any commit since then, ours or a replica's, fails this one.
        const outcome = await this.store.commit(plan, meta.gen);
        if (outcome === 'conflict') return null;
        // The queue filled under us (its capacity changed): the accepted writes are refused, the rest keep their verdicts.
        if (outcome === 'queue_full')
          return results.map((r): LocalWriteResult => (r!.entry ? { queueFull: true } : r!));
      }
      return results.map((r) => r!);
    });
  }

  private decide(loaded: LoadedCache, items: Item[], meta: SiteMeta, at: string) {
    return decideInOrder(
      loaded,
      items,
      { masterDomain: this.masterDomain() },
      (_, n, change) =>
        provisionalVersion(startingVersion(change, loaded, meta.cursor), this.site, meta.seq + n + 1),
      at,
    );
  }
}

/** SPEC §3: an object's own MDC version while it has one, else the cursor the site has pulled to. */
function startingVersion(change: Change, loaded: LoadedCache, cursor: string): string {
  const current = isDomainChange(change) ? loaded.domains.get(change.id) : loaded.entities.get(change.id);
  return current ? baseVersion(current.version) : cursor;
}

/**
 * A write about a domain the site holds only as a tree entry — not served here, or still loading
 * (SPEC §8: served only once complete) — finds no such domain here (the routing sends such requests
 * away; this holds for a batch's ops and for a race with a scope change).
 */
function unserved(write: Write, loaded: LoadedCache): Extract<Verdict, { ok: false }> | null {
  if (write.op === 'domain.create') return null;
  const domain = write.op === 'domain.update' || write.op === 'domain.delete' ? write.name : write.domain;
  return loaded.unscoped.has(domain)
    ? { ok: false, code: 'domain_not_found', message: `no domain ${domain}`, winner: null }
    : null;
}

function effectId(e: Effect): string {
  return e.type === 'domain.put' ? e.domain.id : e.type === 'entity.put' ? e.entity.id : e.id;
}

function effectDomain(e: Effect): string {
  switch (e.type) {
    case 'domain.put':
      return e.domain.name;
    case 'domain.delete':
      return e.name;
    case 'entity.put':
      return e.entity.domain;
    case 'entity.delete':
      return e.domain;
  }
}
