import type { Redis } from 'ioredis';
import { Change, Domain, DomainDigest, Entity, MemoryDirectory } from '@dd/directory';
import type { QueuedChange } from '@dd/sync-protocol';
import { CacheKeys, entityField, parseLocator } from './cache-keys';
import { CachedDomain, CachedEntity, CachePlan, decodeDigest } from './cache-plan';
import { CAS_APPLY_LUA } from './cas.lua';

/** A queued change with what it touched, so acknowledging it can clear `pending` (SPEC §3). */
export interface QueueEntry extends QueuedChange {
  ids: string[];
  domains: string[];
  /** the provisional version its effects carry until the resync, `<mdc version>+<site>.<seq>` */
  version: string;
}

export interface SiteMeta {
  epoch: string | undefined;
  /** last seq given to a queued change */
  seq: number;
  /** MDC change-log version pulled through ('0': never) */
  cursor: string;
  /** the whole scope has been loaded once since the cache was (re)made */
  loaded: boolean;
  /** cache generation: moves on every mutation (optimistic concurrency for every writer) */
  gen: string;
  /** next domain name the rolling scrub starts from */
  scrub: string;
}

export type CommitResult = 'ok' | 'conflict' | 'queue_full';

/** What the rules see for a batch of local changes, and the generation it was read at. */
export interface LoadedCache {
  view: MemoryDirectory;
  domains: Map<string, Domain>;
  entities: Map<string, Entity>;
  gen: string;
}

type RedisWithCas = Redis & { ddCas(numKeys: number, ...args: string[]): Promise<string> };

/**
 * The site's cache, queue and bookkeeping in its Redis database: the only code of the SDC that
 * speaks Redis. Every mutation is one `CachePlan` committed by one Lua script (SPEC §6).
 */
export class SiteCacheStore {
  readonly keys: CacheKeys;
  private readonly redis: RedisWithCas;

  constructor(redis: Redis, site: string) {
    this.keys = new CacheKeys(site);
    redis.defineCommand('ddCas', { lua: CAS_APPLY_LUA });
    this.redis = redis as RedisWithCas;
  }

  plan(): CachePlan {
    return new CachePlan(this.keys);
  }

  /** Commits a plan if the cache is still at `gen` (false: unconditionally, for idempotent writes). */
  async commit(plan: CachePlan, gen: string | false): Promise<CommitResult> {
    const args = JSON.stringify({
      gen,
      queue: plan.queueKey ?? false,
      capacity: plan.capacity,
      ops: plan.ops,
    });
    return (await this.redis.ddCas(plan.keys.length, ...plan.keys, args)) as CommitResult;
  }

  // ---- meta ----

  async meta(): Promise<SiteMeta> {
    const m = await this.redis.hgetall(this.keys.meta);
    return {
      epoch: m.epoch,
      seq: Number(m.seq ?? 0),
      cursor: m.cursor ?? '0',
      loaded: m.loaded === '1',
      gen: m.gen ?? '0',
      scrub: m.scrub ?? '',
    };
  }

  /**
   * SPEC §7: a new epoch whenever the queue state is new (first start, or a Redis that lost its
   * data). HSETNX keeps an existing one; returns the epoch in force and whether it was just drawn.
   */
  async ensureEpoch(candidate: string): Promise<{ epoch: string; fresh: boolean }> {
    const fresh = (await this.redis.hsetnx(this.keys.meta, 'epoch', candidate)) === 1;
    return { epoch: fresh ? candidate : (await this.redis.hget(this.keys.meta, 'epoch'))!, fresh };
  }

  // ---- reads ----

  async domain(name: string): Promise<CachedDomain | undefined> {
    const raw = await this.redis.hget(this.keys.domains, name);
    return raw ? (JSON.parse(raw) as CachedDomain) : undefined;
  }

  async domains(names: string[]): Promise<Array<CachedDomain | undefined>> {
    if (names.length === 0) return [];
    const raws = await this.redis.hmget(this.keys.domains, ...names);
    return raws.map((raw) => (raw ? (JSON.parse(raw) as CachedDomain) : undefined));
  }

  async allDomains(): Promise<CachedDomain[]> {
    const all = await this.redis.hvals(this.keys.domains);
    return all.map((raw) => JSON.parse(raw) as CachedDomain);
  }

  async domainNameById(id: string): Promise<string | undefined> {
    return (await this.redis.hget(this.keys.domainIds, id)) ?? undefined;
  }

  /** Domain names in order after `after`: children of `parent` (null: first level), or all when undefined. */
  async domainNames(
    parent: string | null | undefined,
    after: string | undefined,
    limit: number,
  ): Promise<string[]> {
    const key = parent === undefined ? this.keys.names : this.keys.kids(parent);
    const min = after === undefined ? '-' : `(${after}`;
    return this.redis.zrangebylex(key, min, '+', 'LIMIT', '0', String(limit));
  }

  async childNames(parent: string): Promise<string[]> {
    return this.redis.zrange(this.keys.kids(parent), '0', '-1');
  }

  async entity(domain: string, kind: string, name: string): Promise<CachedEntity | undefined> {
    const raw = await this.redis.hget(this.keys.entities(domain), entityField(kind, name));
    return raw ? (JSON.parse(raw) as CachedEntity) : undefined;
  }

  async entityById(id: string): Promise<CachedEntity | undefined> {
    const locator = await this.redis.hget(this.keys.entityIds, id);
    if (!locator) return undefined;
    const { domain, kind, name } = parseLocator(locator);
    return this.entity(domain, kind, name);
  }

  async entitiesOf(domain: string): Promise<CachedEntity[]> {
    const all = await this.redis.hvals(this.keys.entities(domain));
    return all.map((raw) => JSON.parse(raw) as CachedEntity);
  }

  async entityCount(domain: string): Promise<number> {
    return this.redis.hlen(this.keys.entities(domain));
  }

  /** SPEC §5: ordered by kind, name; keyset paging after (kind, name). */
  async listEntities(domain: string, kind: string | undefined, after: string[] | undefined, limit: number) {
    // Fields are `kind\0name`: one kind's are those from `kind\0` up to (not including) `kind\1`.
    const min = after ? `(${entityField(after[0], after[1])}` : kind ? `[${kind}\u0000` : '-';
    const max = kind ? `(${kind}\u0001` : '+';
    const fields = await this.redis.zrangebylex(
      this.keys.entityOrder(domain),
      min,
      max,
      'LIMIT',
      '0',
      String(limit),
    );
    if (fields.length === 0) return [];
    const raws = await this.redis.hmget(this.keys.entities(domain), ...fields);
    return raws.filter((r): r is string => r !== null).map((raw) => (JSON.parse(raw) as CachedEntity).entity);
  }

  async digests(): Promise<Map<string, DomainDigest>> {
    const all = await this.redis.hgetall(this.keys.digests);
    return new Map(Object.entries(all).map(([name, raw]) => [name, decodeDigest(raw)]));
  }

  async digestsOf(names: string[]): Promise<Map<string, DomainDigest>> {
    if (names.length === 0) return new Map();
    const raws = await this.redis.hmget(this.keys.digests, ...names);
    const out = new Map<string, DomainDigest>();
    names.forEach((n, i) => raws[i] && out.set(n, decodeDigest(raws[i]!)));
    return out;
  }

  async pendingIds(ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const counts = await this.redis.hmget(this.keys.pendingObjects, ...ids);
    return new Set(ids.filter((_, i) => Number(counts[i] ?? 0) > 0));
  }

  async pendingDomains(): Promise<Set<string>> {
    return new Set(Object.keys(await this.redis.hgetall(this.keys.pendingDomains)));
  }

  // ---- the submit queue ----

  async queueLength(): Promise<number> {
    return this.redis.llen(this.keys.queue);
  }

  async queueHead(count: number): Promise<QueueEntry[]> {
    const raws = await this.redis.lrange(this.keys.queue, 0, count - 1);
    return raws.map((raw) => JSON.parse(raw) as QueueEntry);
  }

  async queueAll(): Promise<QueueEntry[]> {
    return this.queueHead(0);
  }

  async rejections(limit: number): Promise<unknown[]> {
    const raws = await this.redis.lrange(this.keys.rejections, 0, limit - 1);
    return raws.map((raw) => JSON.parse(raw));
  }

  async status(): Promise<Record<string, string>> {
    return this.redis.hgetall(this.keys.status);
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  /**
   * Everything the rules read for these local changes, in a few round trips, and the generation it
   * was read at (a later commit at that generation proves nothing changed in between).
   */
  async loadFor(changes: Change[], subtreeOf: string[] = []): Promise<LoadedCache> {
    const gen = (await this.redis.hget(this.keys.meta, 'gen')) ?? '0';
    const names = new Set<string>();
    const entityKeys: Array<[string, string, string]> = [];
    const entityIds = new Set<string>();
    for (const c of changes) {
      if (c.op.startsWith('domain.')) {
        const d = c as { name: string; parent?: string | null };
        names.add(d.name);
        if (d.parent) names.add(d.parent);
      } else {
        const e = c as { id: string; domain: string; kind: string; name: string };
        names.add(e.domain);
        entityKeys.push([e.domain, e.kind, e.name]);
        entityIds.add(e.id);
      }
    }
    // A delete needs the subtree (children for has_children; everything for recursive).
    const subtree = new Set<string>();
    const queue = [...subtreeOf];
    while (queue.length > 0) {
      const name = queue.shift()!;
      if (subtree.has(name)) continue;
      subtree.add(name);
      queue.push(...(await this.childNames(name)));
    }
    const domainList = (await this.domains([...new Set([...names, ...subtree])])).filter(
      (d): d is CachedDomain => d !== undefined,
    );
    const entities = new Map<string, Entity>();
    for (const [domain, kind, name] of entityKeys) {
      const e = await this.entity(domain, kind, name);
      if (e) entities.set(e.entity.id, e.entity);
    }
    for (const id of entityIds) {
      const e = await this.entityById(id);
      if (e) entities.set(e.entity.id, e.entity);
    }
    for (const name of subtree)
      for (const e of await this.entitiesOf(name)) entities.set(e.entity.id, e.entity);
    const domains = new Map(domainList.map((d) => [d.domain.id, d.domain]));
    return {
      view: new MemoryDirectory([...domains.values()], [...entities.values()]),
      domains,
      entities,
      gen,
    };
  }
}
