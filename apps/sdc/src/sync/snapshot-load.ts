import { addElement, bucketOf, DIGEST_BUCKETS, Domain, elementHash, Entity, sumDigests } from '@dd/directory';
import type { SnapshotRequest, SnapshotResponse } from '@dd/sync-protocol';
import { CacheLedger } from '../cache/cache-ledger';
import { entityField } from '../cache/cache-keys';
import { CachedDomain, CachePlan, hashHex } from '../cache/cache-plan';
import type { SiteCacheStore } from '../cache/site-cache.store';

/** What a load asks the MDC for: whole domains (a bootstrap or reload) or some of their buckets (a repair). */
export type LoadRequest =
  | { kind: 'reload' }
  | { kind: 'domains'; domains: string[] }
  | { kind: 'slices'; slices: Array<{ domain: string; buckets: number[] }> };

export interface LoadOutcome {
  /** the change-log version of the first page: pulling from it makes the load exact */
  version: string;
  pages: number;
  /** entities received */
  entities: number;
  /** domains that became served (whole and complete) */
  served: string[];
}

/** A bucket range of one domain that the stream has passed: nothing more of it will come. */
interface Closed {
  domain: string;
  from: number;
  to: number;
}

const LAST_BUCKET = DIGEST_BUCKETS - 1;

/**
 * SPEC §8 scale: a paged snapshot streamed into the cache, one atomic step per page, with memory
 * bounded by a page. Each page's entities are laid over the cache like pulled changes (objects with
 * changes still queued keep their local state, so nothing pending flickers); a bucket the stream has
 * passed is swept of cached entities the MDC no longer has. A domain the site did not serve yet is
 * loaded behind its tree entry (its requests are proxied) and becomes served in the step after its
 * last entity arrives — complete, never partial.
 */
export class SnapshotLoad {
  private readonly targets: Map<string, Set<number> | 'all'>;
  private order: string[] = [];
  /** the stream's position: targets before `at` are complete, and buckets of `order[at]` below `fromBucket` */
  private at = 0;
  private fromBucket = 0;
  /** ids seen of the bucket the last page ended in (it may go on in the next page) */
  private open: { domain: string; bucket: number; ids: Set<string> } | undefined;
  /** the MDC's records of the requested domains (first page) */
  private records = new Map<string, Domain>();

  constructor(
    private readonly store: SiteCacheStore,
    private readonly fetch: (req: SnapshotRequest) => Promise<SnapshotResponse>,
    private readonly request: LoadRequest,
    private readonly pageSize: number,
  ) {
    this.targets = new Map<string, Set<number> | 'all'>();
    if (request.kind === 'slices')
      for (const s of request.slices) this.targets.set(s.domain, new Set(s.buckets));
    if (request.kind === 'domains') for (const d of request.domains) this.targets.set(d, 'all');
  }

  async run(onPage: (entities: number) => void | Promise<void> = () => undefined): Promise<LoadOutcome> {
    const base: SnapshotRequest =
      this.request.kind === 'reload'
        ? { tree: true }
        : this.request.kind === 'domains'
          ? { domains: this.request.domains }
          : { slices: this.request.slices };
    const outcome: LoadOutcome = { version: '0', pages: 0, entities: 0, served: [] };
    let page = await this.fetch({ ...base, limit: this.pageSize });
    outcome.version = page.version;
    this.records = new Map(page.records.map((d) => [d.name, d]));
    if (this.request.kind === 'reload') for (const d of page.records) this.targets.set(d.name, 'all');
    this.order = [...this.targets.keys()].sort(bytewise);
    const first = page;
    for (;;) {
      const next = page.next ? this.fetch({ ...base, after: page.next, limit: this.pageSize }) : undefined;
      next?.catch(() => undefined);
      const completed = await this.applyPage(page, page === first);
      outcome.served.push(...(await this.serve(completed)));
      outcome.pages += 1;
      outcome.entities += page.entities.length;
      await onPage(page.entities.length);
      if (!next) break;
      page = await next;
    }
    return outcome;
  }

  /** One page in one atomic step; returns the whole-domain targets the stream has now passed. */
  private async applyPage(page: SnapshotResponse, first: boolean): Promise<string[]> {
    const closed = this.advance(page).flatMap((c) => this.requested(c));
    const completed = closed
      .filter((c) => c.to === LAST_BUCKET && this.targets.get(c.domain) === 'all')
      .map((c) => c.domain);
    // Only the domains asked for (a domain created while a reload pages along comes by the pull).
    const entities = page.entities.filter((e) => this.targets.has(e.domain));
    const seen = new Set(entities.map((e) => e.id));
    await this.store.step('a snapshot page', async () => {
      const meta = await this.store.meta();
      const plan = this.store.plan();
      const pendingDomains = first ? await this.store.pendingDomains() : new Set<string>();
      const treeDomains =
        first && page.tree ? await this.applyTree(plan, page.tree, pendingDomains) : undefined;
      const names = [
        ...new Set([
          ...entities.map((e) => e.domain),
          ...closed.map((c) => c.domain), // swept ones move their digests too
          ...(first ? this.records.keys() : []),
        ]),
      ];
      const cachedDomains = new Map(
        (await this.store.domains(names))
          .filter((d): d is CachedDomain => d !== undefined)
          .map((d) => [d.domain.name, d]),
      );
      const served = (name: string) => (treeDomains?.get(name) ?? cachedDomains.get(name))?.scoped ?? false;
      // A bucket the stream has passed: what the cache holds there and the MDC did not send goes.
      const members = await this.store.bucketMembersOf(closed);
      const swept: Entity[] = [];
      for (const { domain, from, to } of closed) {
        const wanted = this.targets.get(domain);
        for (const [field, m] of members.get(domain) ?? []) {
          if (m.bucket < from || m.bucket > to) continue;
          if (wanted !== 'all' && !wanted?.has(m.bucket)) continue;
          if (!m.cached) {
            plan.dropEntity({ id: '', domain, ...splitField(field) }); // indexed, its record gone
            continue;
          }
          const id = m.cached.entity.id;
          if (seen.has(id) || (this.open?.domain === domain && this.open.ids.has(id))) continue;
          swept.push(m.cached.entity);
        }
      }
      // Whoever holds each name now: an older entity under a name the MDC gave another id goes.
      const occupants = await this.store.entitiesAt(entities);
      const recordIds = first ? [...this.records.values()].map((d) => d.id) : [];
      const pending = await this.store.pendingIds([
        ...entities.map((e) => e.id),
        ...swept.map((e) => e.id),
        ...[...occupants.values()].map((o) => o.entity.id),
        ...recordIds,
      ]);
      const cachedEntities = await this.store.entitiesById(entities);
      const ledger = new CacheLedger(served);
      if (first) {
        for (const record of this.records.values()) {
          const cached = treeDomains?.get(record.name) ?? cachedDomains.get(record.name);
          // One being loaded is marked, so a load cut short is cleaned up if its zone moves away.
          if (!cached?.scoped && !pendingDomains.has(record.name)) plan.setLoading(record.name, true);
          // A served domain's record is refreshed in place; one being loaded gets it when it is served.
          if (!cached?.scoped || cached.domain.id !== record.id || pending.has(record.id)) continue;
          // re-hashed from the data: a record edited behind the site's back is replaced too
          if (hashHex(cached.domain) !== hashHex(record)) ledger.putDomain(cached.domain, record, true);
        }
      }
      for (const e of entities) {
        if (pending.has(e.id)) continue;
        const occupant = occupants.get(`${e.domain}\u0000${entityField(e.kind, e.name)}`)?.entity;
        if (occupant && occupant.id !== e.id) {
          if (pending.has(occupant.id)) continue; // the site's own queued entity keeps the name for now
          ledger.deleteEntity(occupant);
        }
        const before = cachedEntities.get(e.id)?.entity;
        // unchanged (re-hashed from the data, so a hand edit is not taken for the MDC's state): no write
        if (before && before.version === e.version && elementHash(before) === elementHash(e)) continue;
        ledger.putEntity(before, e);
      }
      for (const e of swept) if (!pending.has(e.id)) ledger.deleteEntity(e);
      await ledger.writeTo(plan, this.store);
      return (await this.store.commit(plan, meta.gen)) === 'ok' ? true : null;
    });
    this.keepOpen(page, entities);
    return completed;
  }

  /**
   * Moves the stream's position past this page: every target bucket before the page's last
   * entity's bucket is now complete (the last bucket may go on in the next page), all of them when
   * this is the last page.
   */
  private advance(page: SnapshotResponse): Closed[] {
    const closed: Closed[] = [];
    // `next` is the page's last entity: its bucket may go on; a last page closes everything
    const end = page.next ? { domain: page.next.domain, bucket: page.next.bucket } : undefined;
    while (this.at < this.order.length) {
      const domain = this.order[this.at];
      if (end && bytewise(domain, end.domain) >= 0) {
        if (domain === end.domain && end.bucket > this.fromBucket) {
          closed.push({ domain, from: this.fromBucket, to: end.bucket - 1 });
          this.fromBucket = end.bucket;
        }
        break;
      }
      closed.push({ domain, from: this.fromBucket, to: LAST_BUCKET });
      this.at += 1;
      this.fromBucket = 0;
    }
    return closed;
  }

  /**
   * A closed range narrowed to the buckets asked for: a repair of one bucket of a domain of millions
   * reads (and sweeps) that bucket's members only, not the whole domain's.
   */
  private requested(c: Closed): Closed[] {
    const wanted = this.targets.get(c.domain);
    if (wanted === 'all') return [c];
    const runs: Closed[] = [];
    for (const b of [...(wanted ?? [])].filter((b) => b >= c.from && b <= c.to).sort((x, y) => x - y)) {
      const last = runs[runs.length - 1];
      if (last && last.to === b - 1) last.to = b;
      else runs.push({ domain: c.domain, from: b, to: b });
    }
    return runs;
  }

  /** The ids of the page's last bucket, which the next page may go on with. */
  private keepOpen(page: SnapshotResponse, entities: Entity[]): void {
    if (!page.next) {
      this.open = undefined;
      return;
    }
    const { domain, bucket } = page.next;
    const ids = new Set(
      entities.filter((e) => e.domain === domain && bucketOf(e.id) === bucket).map((e) => e.id),
    );
    if (this.open?.domain === domain && this.open.bucket === bucket)
      for (const id of this.open.ids) ids.add(id);
    this.open = { domain, bucket, ids };
  }

  /**
   * A reload's first page: the cache's tree becomes the MDC's. Domains gone are dropped; a domain
   * the site serves and still should stays served while its entities are refreshed; any other
   * in-scope domain is a tree entry until its load completes. Returns the tree as it now stands.
   */
  private async applyTree(
    plan: CachePlan,
    tree: NonNullable<SnapshotResponse['tree']>,
    pendingDomains: Set<string>,
  ): Promise<Map<string, CachedDomain>> {
    const cached = new Map((await this.store.allDomains()).map((d) => [d.domain.name, d]));
    const inTree = new Set(tree.map((t) => t.domain.name));
    const now = new Map<string, CachedDomain>();
    for (const [name, c] of cached) {
      if (inTree.has(name) || pendingDomains.has(name)) continue;
      plan.dropDomain(c.domain).setLoading(name, false);
    }
    for (const { domain, scoped } of tree) {
      const before = cached.get(domain.name);
      // the site's own queued change to this domain (a delete, say) stays as the site has it
      if (pendingDomains.has(domain.name)) {
        if (before) now.set(domain.name, before);
        continue;
      }
      if (before && before.domain.id !== domain.id) plan.dropDomain(before.domain);
      const same = before && before.domain.id === domain.id;
      if (same && before.scoped && scoped) {
        now.set(domain.name, before); // refreshed by the ledger from the page's records
        continue;
      }
      if (same && !scoped) {
        // out of scope: its entities go (served ones, or a load cut short); a few UNLINKs each
        plan.clearEntities(domain.name).setDigest(domain.name, null).setLoading(domain.name, false);
      }
      // in scope and not served: a load cut short keeps what it has (the sweeps correct it)
      const entry: CachedDomain = { domain: { ...domain, settings: {} }, scoped: false, h: '' };
      if (!same || before.scoped || before.domain.version !== domain.version) plan.putDomain(entry);
      now.set(domain.name, entry);
    }
    return now;
  }

  /**
   * The step after a domain's last entity: it becomes served, its digest its record's hash plus its
   * buckets'. A domain already served (a reload) has kept its digest incrementally.
   */
  private async serve(names: string[]): Promise<string[]> {
    const served: string[] = [];
    for (const name of names) {
      const record = this.records.get(name);
      if (!record) continue;
      const done = await this.store.step('serving a loaded domain', async () => {
        const meta = await this.store.meta();
        const cached = await this.store.domain(name);
        const kept = (await this.store.digestsOf([name])).has(name);
        if (cached?.scoped && cached.domain.id === record.id && kept) return false;
        // the site's own queued change to the domain (a delete) stays as the site has it
        if ((await this.store.pendingIds([record.id])).size > 0) return false;
        const buckets = await this.store.bucketDigests(name);
        const plan = this.store.plan().setLoading(name, false);
        if (cached && cached.domain.id !== record.id) plan.dropDomain(cached.domain);
        // (already served without a digest — lost by hand — keeps its record and gets its digest back)
        const serving = cached?.scoped && cached.domain.id === record.id ? cached.domain : record;
        plan.putDomain({ domain: serving, scoped: true, h: hashHex(serving) });
        plan.setDigest(name, addElement(sumDigests(buckets.values()), elementHash(serving)));
        return (await this.store.commit(plan, meta.gen)) === 'ok' ? true : null;
      });
      if (done) served.push(name);
    }
    return served;
  }
}

/** Domain names are compared as the MDC orders them (bytewise; names are ASCII). */
function bytewise(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function splitField(field: string): { kind: string; name: string } {
  const i = field.indexOf('\u0000');
  return { kind: field.slice(0, i), name: field.slice(i + 1) };
}
