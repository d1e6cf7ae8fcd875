import {
  addElement,
  bucketOf,
  DomainDigest,
  EMPTY_DIGEST,
  elementHash,
  isEmptyDigest,
  removeElement,
} from './digest';
import { DirectoryOverlay, type DirectoryView, isTombstone } from './directory-view';
import {
  type Change,
  type Domain,
  type Effect,
  type Entity,
  isDomainChange,
  type Tombstone,
  type Verdict,
} from './model';
import { decide, type RuleContext } from './rules';
import { resolveWrite, type Write } from './write';

/** An object a batch wrote: where it started (undefined: did not exist) and where it ended. */
export interface Touched<T> {
  before: T | undefined;
  /** the final state; for a delete, the last live state stamped with the deleting version */
  after: T;
  deleted: boolean;
}

export interface BatchBase {
  domains: ReadonlyMap<string, Domain>;
  entities: ReadonlyMap<string, Entity>;
}

/**
 * Follows a batch's effects to every object's final state, for the store that writes them: the MDC
 * (DomainDB rows, tombstones keep their last live state) and an SDC (its cache).
 */
export class BatchLedger {
  readonly domains = new Map<string, Touched<Domain>>();
  readonly entities = new Map<string, Touched<Entity>>();

  constructor(
    private readonly base: BatchBase,
    private readonly overlay: DirectoryOverlay,
  ) {}

  /** Call after `overlay.apply(effects, version, at)` for each of those effects. */
  record(effect: Effect, version: string, at: string): void {
    switch (effect.type) {
      case 'domain.put':
        return put(
          this.domains,
          effect.domain.id,
          this.base.domains,
          this.overlay.domainById(effect.domain.id),
        );
      case 'entity.put':
        return put(
          this.entities,
          effect.entity.id,
          this.base.entities,
          this.overlay.entityById(effect.entity.id),
        );
      case 'domain.delete':
        return remove(this.domains, effect.id, this.base.domains, version, at);
      case 'entity.delete':
        return remove(this.entities, effect.id, this.base.entities, version, at);
    }
  }

  /** Domains whose tree entry appeared or went (creates and deletes), for the change signal. */
  treeMoved(): boolean {
    return [...this.domains.values()].some((t) => t.deleted || !t.before);
  }
}

/** What a batch is decided over: a view of the stored state and the full objects it holds. */
export interface BatchState extends BatchBase {
  view: DirectoryView;
}

/**
 * One change of a batch; `ifMatch` is SPEC §5's condition, checked against the state the change
 * meets. A write that names its target (write.ts) is resolved against that state too.
 */
export interface Decidable {
  change: Write;
  ifMatch?: string;
}

export interface Decided<T extends Decidable> {
  item: T;
  verdict: Verdict;
  /** the change as decided, addressed by id (undefined when its target's name resolved to nothing) */
  change?: Change;
  /** the version an accepted change's effects carry */
  version?: string;
  /** an accepted change's target as it stood right after it (undefined once deleted) */
  after?: Domain | Entity;
}

/**
 * SPEC §7: decides a batch in order, each change seeing the effects of the ones before it; one
 * refusal does not stop the rest. The one decide loop: the MDC's set-wise apply, a site's local
 * writes and a reload's re-apply of the queue all call it. `versionOf(item, n)` names the version
 * of the n-th accepted change (n from 0; a no-op delete of a tombstone counts as accepted), told
 * the change as resolved.
 */
export function decideInOrder<T extends Decidable>(
  base: BatchState,
  items: readonly T[],
  ctx: Omit<RuleContext, 'ifMatch'>,
  versionOf: (item: T, accepted: number, change: Change) => string,
  at: string,
): { decided: Decided<T>[]; ledger: BatchLedger } {
  const overlay = new DirectoryOverlay(base.view);
  const ledger = new BatchLedger(base, overlay);
  let accepted = 0;
  const decided = items.map((item): Decided<T> => {
    const change = resolveWrite(overlay, item.change);
    if ('ok' in change) return { item, verdict: change };
    const verdict = decide(overlay, change, { ...ctx, ifMatch: item.ifMatch });
    if (!verdict.ok) return { item, verdict, change };
    const version = versionOf(item, accepted++, change);
    overlay.apply(verdict.effects, version, at);
    for (const e of verdict.effects) ledger.record(e, version, at);
    const now = isDomainChange(change) ? overlay.domainById(change.id) : overlay.entityById(change.id);
    return { item, verdict, change, version, after: now && !isTombstone(now) ? now : undefined };
  });
  return { decided, ledger };
}

function put<T extends Domain | Entity>(
  into: Map<string, Touched<T>>,
  id: string,
  base: ReadonlyMap<string, T>,
  now: T | Tombstone | undefined,
): void {
  if (!now || isTombstone(now)) throw new Error(`overlay lost the object ${id} it was just given`);
  into.set(id, { before: base.get(id), after: now, deleted: false });
}

function remove<T extends Domain | Entity>(
  into: Map<string, Touched<T>>,
  id: string,
  base: ReadonlyMap<string, T>,
  version: string,
  at: string,
): void {
  const lastLive = into.get(id)?.after ?? base.get(id);
  if (!lastLive) throw new Error(`delete of ${id}, which the batch never loaded`);
  into.set(id, { before: base.get(id), after: { ...lastLive, version, updatedAt: at }, deleted: true });
}

/**
 * SPEC §8: each touched domain's digest moves by exactly the objects that changed in it. Returns
 * the new digest per domain, or null for a domain that is gone (its entities went with it).
 */
export function digestChanges(
  ledger: Pick<BatchLedger, 'domains' | 'entities'>,
  current: ReadonlyMap<string, DomainDigest>,
  /** the element hash; a caller that has already hashed these objects passes what it computed */
  hash: (o: Domain | Entity) => bigint = elementHash,
): Map<string, DomainDigest | null> {
  const digests = new Map<string, DomainDigest | null>();
  const adjust = (name: string, before: Domain | Entity | undefined, after: Domain | Entity | undefined) => {
    let d = digests.get(name) ?? current.get(name) ?? EMPTY_DIGEST;
    if (before) d = removeElement(d, hash(before));
    if (after) d = addElement(d, hash(after));
    digests.set(name, d);
  };
  for (const t of ledger.entities.values()) adjust(t.after.domain, t.before, t.deleted ? undefined : t.after);
  for (const t of ledger.domains.values()) adjust(t.after.name, t.before, t.deleted ? undefined : t.after);
  const live = new Set([...ledger.domains.values()].filter((t) => !t.deleted).map((t) => t.after.name));
  for (const t of ledger.domains.values())
    if (t.deleted && !live.has(t.after.name)) digests.set(t.after.name, null);
  return digests;
}

/**
 * SPEC §8 buckets: how each touched (domain, bucket) digest moves — an additive delta, so a store can
 * add it to what it holds (PostgreSQL does, in SQL) — and the domains that are gone, whose buckets go
 * with them. Deltas that cancel out are left out.
 */
export function bucketMoves(
  ledger: Pick<BatchLedger, 'domains' | 'entities'>,
  hash: (o: Domain | Entity) => bigint = elementHash,
): { moves: Map<string, Map<number, DomainDigest>>; goneDomains: string[] } {
  const moves = new Map<string, Map<number, DomainDigest>>();
  for (const t of ledger.entities.values()) {
    const b = bucketOf(t.after.id);
    let byBucket = moves.get(t.after.domain);
    if (!byBucket) moves.set(t.after.domain, (byBucket = new Map()));
    let d = byBucket.get(b) ?? EMPTY_DIGEST;
    if (t.before) d = removeElement(d, hash(t.before));
    if (!t.deleted) d = addElement(d, hash(t.after));
    byBucket.set(b, d);
  }
  const live = new Set([...ledger.domains.values()].filter((t) => !t.deleted).map((t) => t.after.name));
  const goneDomains = [
    ...new Set([...ledger.domains.values()].filter((t) => t.deleted).map((t) => t.after.name)),
  ].filter((name) => !live.has(name));
  for (const name of goneDomains) moves.delete(name);
  for (const [name, byBucket] of moves) {
    for (const [b, d] of byBucket) if (isEmptyDigest(d)) byBucket.delete(b);
    if (byBucket.size === 0) moves.delete(name);
  }
  return { moves, goneDomains };
}

/** The names of the domains a ledger touched (their digests may have moved). */
export function touchedDomains(ledger: Pick<BatchLedger, 'domains' | 'entities'>): string[] {
  const names = new Set<string>();
  for (const t of ledger.domains.values()) names.add(t.after.name);
  for (const t of ledger.entities.values()) names.add(t.after.domain);
  return [...names];
}
