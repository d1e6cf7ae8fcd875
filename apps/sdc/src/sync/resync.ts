import {
  addElement,
  applyDelta,
  DIGEST_BUCKETS,
  digestDelta,
  digestsEqual,
  DomainDigest,
  elementHash,
  EMPTY_DIGEST,
  rootDigest,
  sumDigests,
} from '@dd/directory';
import type { BucketDigest, ManifestResponse, PulledChange } from '@dd/sync-protocol';
import { CacheLedger } from '../cache/cache-ledger';
import { entityField } from '../cache/cache-keys';
import type { CachedDomain } from '../cache/cache-plan';
import type { SiteCacheStore } from '../cache/site-cache.store';

/** What the manifest check found (SPEC §8): what to load, what to narrow to buckets, what to drop. */
export interface ManifestDifference {
  /** in the site's scope at the MDC, not served here yet: load whole */
  load: string[];
  /** served here, digest differs, nothing queued: narrow to buckets and repair those */
  differ: string[];
  /** served here, no longer in the site's scope */
  unscope: string[];
}

/**
 * SPEC §8 step 2, the cache's side: pulled pages, the manifest comparison, bucket narrowing, leaving
 * the scope, and the rolling scrub — each step costs O(what changed or what it is given), never
 * O(what is cached). Snapshots stream in through `SnapshotLoad`.
 */
export class Resync {
  constructor(private readonly store: SiteCacheStore) {}

  /**
   * Applies one pulled page and moves the cursor with it. Returns how many objects changed.
   * The page's objects are read in a few batched calls, decided in memory and written in one commit:
   * the round trips do not grow with the page nor with the cache (STYLE: no per-object round trips).
   */
  async applyPulled(changes: PulledChange[], cursor: string): Promise<number> {
    return this.store.step('a pulled page', async () => {
      const meta = await this.store.meta();
      // Whoever holds each put entity's name now: an older entity the MDC no longer has under it goes.
      const occupants = await this.store.entitiesAt(
        changes.flatMap((c) => (c.type === 'entity.put' ? [c.entity] : [])),
      );
      // Objects with changes still queued keep their local state (the manifest check catches up
      // later); so does an occupant of the site's own, queued — both read in one round trip.
      const pending = await this.store.pendingIds([
        ...changes.map(objectId),
        ...[...occupants.values()].map((o) => o.entity.id),
      ]);
      const applied = changes.filter((c) => !pending.has(objectId(c)));
      const cachedDomains = await this.store.domainsById(
        applied.flatMap((c) =>
          c.type === 'domain.put' ? [c.domain.id] : c.type === 'domain.delete' ? [c.id] : [],
        ),
      );
      const entityDomains = [
        ...new Set(
          applied.flatMap((c) =>
            c.type === 'entity.put' ? [c.entity.domain] : c.type === 'entity.delete' ? [c.domain] : [],
          ),
        ),
      ];
      const byName = new Map(
        (await this.store.domains(entityDomains))
          .filter((d): d is CachedDomain => d !== undefined)
          .map((d) => [d.domain.name, d]),
      );
      const cachedEntities = await this.store.entitiesById(
        applied.flatMap((c) =>
          c.type === 'entity.put'
            ? [{ domain: c.entity.domain, id: c.entity.id }]
            : c.type === 'entity.delete'
              ? [{ domain: c.domain, id: c.id }]
              : [],
        ),
      );
      const ledger = new CacheLedger((name) => byName.get(name)?.scoped ?? false);
      /** served domains this page takes out of the site's scope */
      const leaving = new Set<string>();
      for (const c of applied) {
        switch (c.type) {
          case 'domain.put': {
            const before = cachedDomains.get(c.domain.id);
            // SPEC §8: a domain already in the tree becomes served only once loaded whole (the
            // manifest check loads it); one new to the tree starts complete, its entities follow in the log.
            const scoped = c.scoped && (before === undefined || before.scoped);
            // leaving the scope, or out of it with a load cut short: its entity keys go
            if (before && !c.scoped) leaving.add(c.domain.name);
            ledger.putDomain(
              before?.scoped ? before.domain : undefined,
              scoped ? c.domain : { ...c.domain, settings: {} },
              scoped,
            );
            break;
          }
          case 'domain.delete': {
            const before = cachedDomains.get(c.id);
            if (before) ledger.deleteDomain(before.domain);
            break;
          }
          case 'entity.put': {
            const e = c.entity;
            const occupant = occupants.get(`${e.domain}\u0000${entityField(e.kind, e.name)}`)?.entity;
            if (occupant && occupant.id !== e.id) {
              if (pending.has(occupant.id)) break; // the site's queued entity keeps the name for now
              ledger.deleteEntity(occupant);
            }
            ledger.putEntity(cachedEntities.get(e.id)?.entity, e);
            break;
          }
          case 'entity.delete': {
            const before = cachedEntities.get(c.id);
            if (before) ledger.deleteEntity(before.entity);
            break;
          }
        }
      }
      const plan = this.store.plan();
      await ledger.writeTo(plan, this.store);
      for (const name of leaving) plan.clearEntities(name).setDigest(name, null).setLoading(name, false);
      plan.setMeta('cursor', cursor);
      return (await this.store.commit(plan, meta.gen)) === 'ok' ? ledger.size : null;
    });
  }

  /**
   * SPEC §8 manifest check: domains the MDC has in the site's scope that it does not serve yet (to
   * load), served ones whose digest differs (to narrow to buckets), and served ones no longer in
   * scope. A domain with changes still queued is left for a later cycle, never "repaired" over them.
   */
  async compare(manifest: ManifestResponse): Promise<ManifestDifference> {
    const local = await this.store.digests();
    const pending = await this.store.pendingDomains();
    const remote = new Map<string, DomainDigest>(
      (manifest.domains ?? []).map((d) => [d.name, { count: d.count, sum: d.sum }]),
    );
    const load: string[] = [];
    const differ: string[] = [];
    for (const [name, d] of remote) {
      if (pending.has(name)) continue;
      const here = local.get(name);
      if (!here) load.push(name);
      else if (!digestsEqual(here, d)) differ.push(name);
    }
    // a load cut short whose zone has since moved away is dropped like a served one
    const loading = (await this.store.loadingDomains()).filter((n) => !remote.has(n) && !local.has(n));
    const unscope = [...local.keys(), ...loading].filter((name) => !remote.has(name) && !pending.has(name));
    return { load, differ, unscope };
  }

  /**
   * The buckets of each differing domain whose digests differ from the MDC's; a domain whose
   * buckets all agree differs in its record alone (an empty list: the repair fetches only that).
   */
  async differingBuckets(
    remote: Array<{ name: string; buckets: BucketDigest[] }>,
  ): Promise<Array<{ domain: string; buckets: number[] }>> {
    const state = await this.store.digestState([], new Map(remote.map((r) => [r.name, 'all' as const])));
    return remote.map(({ name, buckets }) => {
      const theirs = new Map(buckets.map((b) => [b.bucket, b]));
      const ours = state.buckets.get(name) ?? new Map<number, DomainDigest>();
      const differ = [...new Set([...theirs.keys(), ...ours.keys()])].filter(
        (b) => !digestsEqual(theirs.get(b) ?? EMPTY_DIGEST, ours.get(b) ?? EMPTY_DIGEST),
      );
      return { domain: name, buckets: differ.sort((a, b) => a - b) };
    });
  }

  async localRoot(): Promise<string> {
    return rootDigest(await this.store.digests());
  }

  /** Domains that left the site's scope: back to tree entries, their entities gone (SPEC §4). O(1) each. */
  async unscope(names: string[]): Promise<void> {
    if (names.length === 0) return;
    await this.store.step('dropping domains out of scope', async () => {
      const meta = await this.store.meta();
      const plan = this.store.plan();
      const cached = await this.store.domains(names);
      names.forEach((name, i) => {
        plan.clearEntities(name).setDigest(name, null).setLoading(name, false);
        const c = cached[i];
        if (c) plan.putDomain({ domain: { ...c.domain, settings: {} }, scoped: false, h: '' });
      });
      return (await this.store.commit(plan, meta.gen)) === 'ok' ? true : null;
    });
  }

  /**
   * SPEC §8 rolling scrub: re-hash about `budget` cached entities from the data itself, going on
   * where the last cycle stopped — in (domain, bucket, name) order, a chunk of a bucket at a time, so
   * a cycle's cost is the budget's whatever the domains' sizes — and set any bucket digest that
   * disagrees with its data to what the data says (the manifest check then repairs that bucket).
   * A bucket scanned over several cycles is judged only if its digest did not move meanwhile (a write
   * there means a later pass judges it). Entering a domain checks its record and that its records,
   * bucket index and digests agree in count (O(1)); an entity the index does not know would escape
   * every slice, so such a domain is reloaded whole. Domains with queued changes are skipped. A hand
   * edit anywhere is found within ⌈(scope + 8 × domains) / budget⌉ cycles. Returns the domains fixed.
   */
  async scrub(budget: number): Promise<string[]> {
    return this.store.step('a scrub slice', async () => {
      const meta = await this.store.meta();
      const at = parseScrubCursor(meta.scrub);
      const names = at.inside ? [at.domain] : [];
      const after = await this.store.domainNames(undefined, at.domain || undefined, SCRUB_NAMES);
      names.push(...after);
      // past the last name, round to the first
      if (at.domain && after.length < SCRUB_NAMES)
        names.push(...(await this.store.domainNames(undefined, undefined, SCRUB_NAMES)));
      const unique = [...new Set(names)];
      const cached = await this.store.domains(unique);
      const kept = await this.store.digestsOf(unique);
      const pending = await this.store.pendingDomains();
      const plan = this.store.plan();
      const fixed = new Set<string>();
      let spent = 0;
      let cursor = meta.scrub;
      for (const [i, name] of unique.entries()) {
        if (spent >= budget) break;
        cursor = name;
        const domain = cached[i];
        if (!domain?.scoped || pending.has(name)) continue;
        let digest = kept.get(name) ?? EMPTY_DIGEST;
        let inside = name === at.domain ? at.inside : undefined;
        if (!inside) {
          spent += DOMAIN_ENTRY_COST;
          const entry = await this.enter(plan, domain, digest);
          if (entry === 'unserved') {
            fixed.add(name);
            continue;
          }
          if (entry) {
            digest = entry;
            fixed.add(name);
          }
          inside = { bucket: 0, lastField: '', acc: EMPTY_DIGEST, held: null };
        }
        const want = Math.max(1, budget - spent);
        const chunk = await this.store.scrubChunk(name, inside.lastField, inside.bucket, want);
        const now = (b: number) => chunk.buckets.get(b) ?? EMPTY_DIGEST;
        // a bucket whose place was lost (its last member gone: a write there) starts over
        if (!chunk.resumed) inside = { bucket: inside.bucket, lastField: '', acc: EMPTY_DIGEST, held: null };
        let state = { ...inside, held: inside.held ?? now(inside.bucket) };
        const close = () => {
          const current = now(state.bucket);
          // judged only if nothing moved the bucket since its scan began
          if (digestsEqual(current, state.held) && !digestsEqual(state.acc, current)) {
            plan.setBucketDigest(name, state.bucket, state.acc);
            digest = applyDelta(digest, digestDelta(state.acc, current));
            plan.setDigest(name, digest);
            fixed.add(name);
          }
        };
        for (const m of chunk.members) {
          if (m.bucket < state.bucket) continue; // behind the place (the index moved): a later pass
          while (m.bucket > state.bucket) {
            close();
            state = {
              bucket: state.bucket + 1,
              lastField: '',
              acc: EMPTY_DIGEST,
              held: now(state.bucket + 1),
            };
          }
          if (m.cached) state.acc = addElement(state.acc, elementHash(m.cached.entity));
          state.lastField = m.field;
          spent += 1;
        }
        if (chunk.members.length < want) {
          // the domain's last member: its remaining buckets are closed too (empty in the index)
          for (;;) {
            close();
            if (state.bucket >= DIGEST_BUCKETS - 1) break;
            state = {
              bucket: state.bucket + 1,
              lastField: '',
              acc: EMPTY_DIGEST,
              held: now(state.bucket + 1),
            };
          }
          cursor = name;
          continue;
        }
        cursor = `${name}\u0000${JSON.stringify(state)}`;
        break;
      }
      plan.setMeta('scrub', cursor);
      // another replica's write in between: read again (this process's own writes wait for the step)
      return (await this.store.commit(plan, meta.gen)) === 'ok' ? [...fixed] : null;
    });
  }

  /**
   * Entering a domain: records, bucket index and bucket digests must agree in count (else the domain
   * becomes a tree entry, to be reloaded whole: 'unserved'), and its digest must be its record's
   * hash plus its buckets' (else it is set so: the new digest). O(buckets), not O(entities).
   */
  private async enter(
    plan: ReturnType<SiteCacheStore['plan']>,
    cached: CachedDomain,
    kept: DomainDigest,
  ): Promise<'unserved' | DomainDigest | null> {
    const name = cached.domain.name;
    const buckets = await this.store.bucketDigests(name);
    const { records, indexed } = await this.store.indexCounts(name);
    const inBuckets = sumDigests(buckets.values());
    if (records !== indexed || records !== inBuckets.count) {
      plan.clearEntities(name).setDigest(name, null);
      plan.putDomain({ domain: { ...cached.domain, settings: {} }, scoped: false, h: '' });
      return 'unserved';
    }
    const actual = addElement(inBuckets, elementHash(cached.domain));
    if (digestsEqual(actual, kept)) return null;
    plan.setDigest(name, actual);
    return actual;
  }
}

/** What entering a domain costs the scrub's budget (its checks), so a tree of tiny domains is bounded too. */
const DOMAIN_ENTRY_COST = 8;

/** Where the scrub is inside a domain: the bucket, the last entity read, what its data sums to so far, and the bucket's digest when its scan began. */
interface ScrubInside {
  bucket: number;
  lastField: string;
  acc: DomainDigest;
  held: DomainDigest | null;
}

/** How many domain names one scrub looks at (after its cursor, then from the start). */
const SCRUB_NAMES = 256;

/** The scrub's cursor: `domain` (done with it: go on after it) or `domain\0{inside}` (go on inside it). */
function parseScrubCursor(raw: string): { domain: string; inside: ScrubInside | undefined } {
  const i = raw.indexOf('\u0000');
  if (i < 0) return { domain: raw, inside: undefined };
  try {
    const inside = JSON.parse(raw.slice(i + 1)) as ScrubInside;
    const valid = typeof inside === 'object' && inside !== null && Number.isInteger(inside.bucket);
    return { domain: raw.slice(0, i), inside: valid ? inside : undefined };
  } catch {
    return { domain: raw.slice(0, i), inside: undefined };
  }
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
