import {
  applyDelta,
  BatchLedger,
  bucketMoves,
  digestChanges,
  Domain,
  elementHash,
  EMPTY_DIGEST,
  Entity,
  Touched,
  touchedDomains,
} from '@dd/directory';
import { CachePlan, hashHex } from './cache-plan';
import type { SiteCacheStore } from './site-cache.store';

/**
 * Objects a cache step writes, with where they started, so the step can keep the indexes and the
 * digests right (SPEC §8: both sides keep digests up to date incrementally) — a served domain's
 * digest, and every touched bucket's.
 */
export class CacheLedger {
  readonly domains = new Map<string, Touched<Domain>>();
  readonly entities = new Map<string, Touched<Entity>>();
  /** scope of each written domain record; unscoped ones are tree entries and count in no digest */
  private readonly scoped = new Map<string, boolean>();

  /**
   * @param served whether a domain's digest is kept (the site serves it); entities of a domain it does
   *   not serve yet (one being loaded) move only their buckets' digests
   */
  constructor(private readonly served: (domain: string) => boolean = () => true) {}

  /** A decided batch's final states as cache writes: domains a site writes itself are ones it serves. */
  static of(batch: BatchLedger): CacheLedger {
    const ledger = new CacheLedger();
    for (const t of batch.domains.values()) {
      if (t.deleted) ledger.deleteDomain(t.after);
      else ledger.putDomain(t.before, t.after, true);
    }
    for (const t of batch.entities.values()) {
      if (t.deleted) ledger.deleteEntity(t.after);
      else ledger.putEntity(t.before, t.after);
    }
    return ledger;
  }

  get size(): number {
    return this.domains.size + this.entities.size;
  }

  putDomain(before: Domain | undefined, after: Domain, scoped: boolean): void {
    const prior = this.domains.get(after.id);
    this.domains.set(after.id, { before: prior ? prior.before : before, after, deleted: false });
    this.scoped.set(after.id, scoped);
  }

  deleteDomain(before: Domain): void {
    const prior = this.domains.get(before.id);
    this.domains.set(before.id, { before: prior ? prior.before : before, after: before, deleted: true });
  }

  putEntity(before: Entity | undefined, after: Entity): void {
    const prior = this.entities.get(after.id);
    this.entities.set(after.id, { before: prior ? prior.before : before, after, deleted: false });
  }

  deleteEntity(before: Entity): void {
    const prior = this.entities.get(before.id);
    this.entities.set(before.id, { before: prior ? prior.before : before, after: before, deleted: true });
  }

  /** Adds the object writes and digest moves to `plan` (the digests they move read first, in one round trip). */
  async writeTo(plan: CachePlan, store: SiteCacheStore): Promise<void> {
    // Each object hashed once: for its record and for its digest moves (a page holds thousands).
    const hashes = new Map<Domain | Entity, bigint>();
    const hash = (o: Domain | Entity) => {
      let h = hashes.get(o);
      if (h === undefined) hashes.set(o, (h = elementHash(o)));
      return h;
    };
    // Gone domains first: their keys go whole, and a name re-created in the same step starts afresh.
    for (const t of this.domains.values()) if (t.deleted) plan.dropDomain(t.after);
    for (const t of this.entities.values()) {
      if (t.deleted) plan.dropEntity(t.after);
      else plan.putEntity({ entity: t.after, h: hashHex(t.after, hash) });
    }
    for (const t of this.domains.values()) {
      if (t.deleted) continue;
      const scoped = this.scoped.get(t.after.id) ?? true;
      plan.putDomain({ domain: t.after, scoped, h: scoped ? hashHex(t.after, hash) : '' });
    }
    // A served domain's digest counts its record and entities; a tree entry's moves none.
    const servedNow = new Set(
      [...this.domains.values()]
        .filter((t) => !t.deleted && this.scoped.get(t.after.id) !== false)
        .map((t) => t.after.name),
    );
    const counted = {
      domains: new Map([...this.domains].filter(([id]) => this.scoped.get(id) !== false)),
      entities: new Map(
        [...this.entities].filter(([, t]) => servedNow.has(t.after.domain) || this.served(t.after.domain)),
      ),
    };
    const { moves } = bucketMoves(this, hash);
    const state = await store.digestState(
      touchedDomains(counted),
      new Map([...moves].map(([d, byBucket]) => [d, byBucket.keys()])),
    );
    for (const [name, digest] of digestChanges(counted, state.domains, hash)) plan.setDigest(name, digest);
    for (const [d, byBucket] of moves)
      for (const [b, delta] of byBucket)
        plan.setBucketDigest(d, b, applyDelta(state.buckets.get(d)?.get(b) ?? EMPTY_DIGEST, delta));
  }
}
