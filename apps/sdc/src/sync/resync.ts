import {
  computeDomainDigest,
  decideInOrder,
  digestsEqual,
  Domain,
  DomainDigest,
  Entity,
  MemoryDirectory,
  rootDigest,
} from '@dd/directory';
import type { ManifestResponse, PulledChange, SnapshotResponse } from '@dd/sync-protocol';
import { CacheLedger } from '../cache/cache-ledger';
import { hashHex } from '../cache/cache-plan';
import type { QueueEntry, SiteCacheStore } from '../cache/site-cache.store';

/**
 * SPEC §8 step 2, the cache's side: lay the MDC's state over the cache — pulled changes, repaired
 * domains, a full reload — then the changes still queued on top, each as one atomic step.
 */
export class Resync {
  constructor(
    private readonly store: SiteCacheStore,
    /** SPEC §3: the master domain's name in the config in force */
    private readonly masterDomain: () => string,
  ) {}

  /**
   * Applies one pulled page and moves the cursor with it. Returns how many objects changed.
   * The page's objects are read in a few batched calls, decided in memory and written in one commit:
   * the round trips do not grow with the page nor with the cache (STYLE: no per-object round trips).
   */
  async applyPulled(changes: PulledChange[], cursor: string): Promise<number> {
    return this.store.step('a pulled page', async () => {
      const meta = await this.store.meta();
      // Objects with changes still queued keep their local state; the manifest check catches up later.
      const pending = await this.store.pendingIds(changes.map(objectId));
      const applied = changes.filter((c) => !pending.has(objectId(c)));
      const cachedDomains = await this.store.domainsById(
        applied.flatMap((c) =>
          c.type === 'domain.put' ? [c.domain.id] : c.type === 'domain.delete' ? [c.id] : [],
        ),
      );
      const cachedEntities = await this.store.entitiesById(
        applied.flatMap((c) =>
          c.type === 'entity.put' ? [c.entity.id] : c.type === 'entity.delete' ? [c.id] : [],
        ),
      );
      const ledger = new CacheLedger();
      const dropped: Domain[] = [];
      for (const c of applied) {
        switch (c.type) {
          case 'domain.put': {
            const before = cachedDomains.get(c.domain.id);
            ledger.putDomain(before?.scoped ? before.domain : undefined, c.domain, c.scoped);
            break;
          }
          case 'domain.delete': {
            const before = cachedDomains.get(c.id);
            if (before) {
              ledger.deleteDomain(before.domain);
              dropped.push(before.domain);
            }
            break;
          }
          case 'entity.put':
            ledger.putEntity(cachedEntities.get(c.entity.id)?.entity, c.entity);
            break;
          case 'entity.delete': {
            const before = cachedEntities.get(c.id);
            if (before) ledger.deleteEntity(before.entity);
            break;
          }
        }
      }
      const plan = this.store.plan();
      await ledger.writeTo(plan, this.store);
      // A deleted domain takes its entities with it, read in one batch for the page.
      const entitiesOf = await this.store.entitiesOfMany(dropped.map((d) => d.name));
      for (const d of dropped)
        plan.clearEntities(
          d.name,
          (entitiesOf.get(d.name) ?? []).map((e) => e.entity),
        );
      plan.setMeta('cursor', cursor);
      return (await this.store.commit(plan, meta.gen)) === 'ok'
        ? ledger.domains.size + ledger.entities.size
        : null;
    });
  }

  /**
   * Replaces whole domains (and the tree) with a snapshot. `full`: the snapshot is the whole scope,
   * so every cached domain it does not list is dropped and the site counts as loaded.
   */
  async applySnapshot(given: SnapshotResponse, domains: string[] | 'all'): Promise<void> {
    await this.store.step('a snapshot', async () => {
      const meta = await this.store.meta();
      // SPEC §8: a full reload lands with the changes still queued already on top, in the same step,
      // so a pending change never flickers away. (A repair touches only domains with none queued.)
      const snapshot = domains === 'all' ? this.laidOver(given, await this.store.queueAll()) : given;
      const plan = this.store.plan();
      const cached = new Map((await this.store.allDomains()).map((d) => [d.domain.name, d]));
      const inTree = new Set(snapshot.tree.map((t) => t.domain.name));
      const wanted = new Set(
        domains === 'all' ? snapshot.tree.filter((t) => t.scoped).map((t) => t.domain.name) : domains,
      );
      for (const [name, c] of cached) {
        if (!inTree.has(name))
          plan.dropDomain(
            c.domain,
            (await this.store.entitiesOf(name)).map((e) => e.entity),
          );
      }
      const entitiesByDomain = new Map<string, Entity[]>();
      for (const e of snapshot.entities)
        entitiesByDomain.set(e.domain, [...(entitiesByDomain.get(e.domain) ?? []), e]);
      for (const { domain, scoped } of snapshot.tree) {
        const before = cached.get(domain.name);
        const rewrite = wanted.has(domain.name) || (before?.scoped ?? false) !== scoped;
        if (!rewrite && before?.domain.version === domain.version && before.domain.id === domain.id) continue;
        if (before && before.domain.id !== domain.id) {
          plan.dropDomain(
            before.domain,
            (await this.store.entitiesOf(domain.name)).map((e) => e.entity),
          );
        } else if (rewrite && before) {
          plan.clearEntities(
            domain.name,
            (await this.store.entitiesOf(domain.name)).map((e) => e.entity),
          );
        }
        const entities = scoped ? (entitiesByDomain.get(domain.name) ?? []) : [];
        plan.putDomain({ domain, scoped, h: scoped ? hashHex(domain) : '' });
        for (const entity of entities) plan.putEntity({ entity, h: hashHex(entity) });
        plan.setDigest(domain.name, scoped ? computeDomainDigest(domain, entities) : null);
      }
      if (domains === 'all') {
        plan.setMeta('loaded', '1');
        plan.setMeta('cursor', snapshot.version);
      }
      return (await this.store.commit(plan, meta.gen)) === 'ok' ? true : null;
    });
  }

  /** The snapshot with the queued changes decided over it, as the cache should hold it. */
  private laidOver(snapshot: SnapshotResponse, queue: QueueEntry[]): SnapshotResponse {
    if (queue.length === 0) return snapshot;
    const domains = new Map(snapshot.tree.map((t) => [t.domain.id, t.domain]));
    const entities = new Map(snapshot.entities.map((e) => [e.id, e]));
    const base = {
      view: new MemoryDirectory([...domains.values()], [...entities.values()]),
      domains,
      entities,
    };
    // SPEC §8: decided in order over the snapshot, each with its provisional version; a change the
    // rules now refuse is left for the MDC to decide.
    const { ledger } = decideInOrder(
      base,
      queue,
      { masterDomain: this.masterDomain() },
      (entry) => entry.version,
      new Date().toISOString(),
    );
    const tree = new Map(snapshot.tree.map((t) => [t.domain.id, t]));
    for (const t of ledger.domains.values()) {
      if (t.deleted) tree.delete(t.after.id);
      else tree.set(t.after.id, { domain: t.after, scoped: true });
    }
    for (const t of ledger.entities.values()) {
      if (t.deleted) entities.delete(t.after.id);
      else entities.set(t.after.id, t.after);
    }
    return { version: snapshot.version, tree: [...tree.values()], entities: [...entities.values()] };
  }

  /**
   * SPEC §8 manifest check: the domains whose digest differs from the MDC's (or that only one side
   * has in scope). A domain with changes still queued is left for a later cycle, never "repaired"
   * back over them.
   */
  async differingDomains(manifest: ManifestResponse): Promise<{ differ: string[]; unscope: string[] }> {
    const local = await this.store.digests();
    const pending = await this.store.pendingDomains();
    const remote = new Map<string, DomainDigest>(
      (manifest.domains ?? []).map((d) => [d.name, { count: d.count, sum: d.sum }]),
    );
    const differ = [...remote]
      .filter(([name, d]) => !pending.has(name) && !sameDigest(local.get(name), d))
      .map(([n]) => n);
    const unscope = [...local.keys()].filter((name) => !remote.has(name) && !pending.has(name));
    return { differ, unscope };
  }

  async localRoot(): Promise<string> {
    return rootDigest(await this.store.digests());
  }

  /** A domain that left the site's scope: back to a tree entry (SPEC §4: the zone is dropped). */
  async unscope(names: string[]): Promise<void> {
    if (names.length === 0) return;
    await this.store.step('dropping domains out of scope', async () => {
      const meta = await this.store.meta();
      const plan = this.store.plan();
      for (const c of await this.store.domains(names)) {
        if (!c) continue;
        plan.clearEntities(
          c.domain.name,
          (await this.store.entitiesOf(c.domain.name)).map((e) => e.entity),
        );
        plan.putDomain({ domain: { ...c.domain, settings: {} }, scoped: false, h: '' });
        plan.setDigest(c.domain.name, null);
      }
      return (await this.store.commit(plan, meta.gen)) === 'ok' ? true : null;
    });
  }

  /**
   * SPEC §8 rolling scrub: re-hash up to `budget` entities' worth of domains from the data itself,
   * starting where the last cycle stopped, and correct any digest that disagrees (so the manifest
   * check then repairs the domain). Domains with queued changes are skipped. Returns the domains fixed.
   */
  async scrub(budget: number): Promise<string[]> {
    const meta = await this.store.meta();
    const names = (await this.store.domainNames(undefined, meta.scrub || undefined, 1000)).concat(
      meta.scrub ? await this.store.domainNames(undefined, undefined, 1000) : [],
    );
    const pending = await this.store.pendingDomains();
    const fixed: string[] = [];
    let spent = 0;
    let last = meta.scrub;
    const plan = this.store.plan();
    const seen = new Set<string>();
    for (const name of names) {
      if (spent >= budget || seen.has(name)) break;
      seen.add(name);
      last = name;
      const cached = await this.store.domain(name);
      if (!cached?.scoped || pending.has(name)) continue;
      const entities = (await this.store.entitiesOf(name)).map((e) => e.entity);
      spent += entities.length + 1;
      const actual = computeDomainDigest(cached.domain, entities);
      const kept = (await this.store.digestsOf([name])).get(name);
      if (!kept || !digestsEqual(kept, actual)) {
        plan.setDigest(name, actual);
        fixed.push(name);
      }
    }
    plan.setMeta('scrub', last);
    await this.store.commit(plan, meta.gen);
    return fixed;
  }
}

function sameDigest(a: DomainDigest | undefined, b: DomainDigest): boolean {
  return a !== undefined && digestsEqual(a, b);
}

function objectId(c: PulledChange): string {
  switch (c.type) {
    case 'domain.put':
      return c.domain.id;
    case 'entity.put':
      return c.entity.id;
    default:
      return c.id;
  }
}
