import { Command } from 'ioredis';
import { Change, Domain, DomainDigest, Entity, MemoryDirectory, RuleCode, Write } from '@dd/directory';
import type { PushVerdict } from '@dd/sync-protocol';
import type { QueuedChange } from '@dd/sync-protocol';
import { CACHE_LAYOUT, CacheKeys, entityField } from './cache-keys';
import { CachedDomain, CachedEntity, CachePlan, decodeDigest } from './cache-plan';
import { CAS_APPLY_LUA, RESTART_EPOCH_LUA } from './cas.lua';
import { nodeForKey, SiteRedisClient } from './site-redis';

/** An acknowledged change kept for a failover's re-push (SPEC §11), with its first refusal if refused. */
export interface AckedEntry extends QueueEntry {
  refused?: RuleCode;
}

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

/** What the rules see for a group of local writes. */
export interface LoadedCache {
  view: MemoryDirectory;
  domains: Map<string, Domain>;
  entities: Map<string, Entity>;
  /** names of the loaded domains the site holds only as tree entries (not served, or still loading) */
  unscoped: Set<string>;
}

/** SPEC §7: a change the MDC refused, as `/sync/rejections` lists it. */
export interface Rejection {
  seq: number;
  op: Change['op'];
  target: string;
  reason: RuleCode;
  message: string;
  at: string;
  change: Change;
  actor: string;
  winner: Extract<PushVerdict, { status: 'rejected' }>['winner'];
}

type RedisWithCas = SiteRedisClient & { ddCas(numKeys: number, ...args: string[]): Promise<string> };

const MAX_ATTEMPTS = 50;
/** How much longer than WAIT's own timeout its reply may take to come back before the command fails. */
const WAIT_REPLY_GRACE_MS = 500;
/**
 * The next `n` members of a domain's bucket index after `lastField` (by its rank now), or from the
 * first member of bucket `bucket` when `lastField` is '' or gone; returns { found, members-with-scores }.
 */
const SCRUB_CHUNK_LUA = `
local start
local found = 0
if ARGV[1] ~= '' then
  local r = redis.call('ZRANK', KEYS[1], ARGV[1])
  if r then start = r + 1; found = 1 end
end
if not start then start = redis.call('ZCOUNT', KEYS[1], '-inf', '(' .. ARGV[2]) end
return { found, redis.call('ZRANGE', KEYS[1], start, start + tonumber(ARGV[3]) - 1, 'WITHSCORES') }`;
const RENEW_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
const NEW_EPOCH_LUA = `if redis.call('HSETNX', KEYS[1], 'epoch', ARGV[1]) == 0 then return 0 end
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4]) return 1`;
const RELEASE_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/**
 * The site's cache, queue and bookkeeping in its Redis database. With `RedisNonceStore` the only
 * code of the SDC that sends Redis commands (BullMQ keeps its own keys, under the same hash tag).
 * Every mutation is one `CachePlan` committed by one Lua script (SPEC §6).
 */
export class SiteCacheStore {
  readonly keys: CacheKeys;
  private readonly redis: RedisWithCas;
  /** this process's read-decide-commit steps, one at a time (see `step`) */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(redis: SiteRedisClient, site: string) {
    this.keys = new CacheKeys(site);
    redis.defineCommand('ddCas', { lua: CAS_APPLY_LUA });
    this.redis = redis as RedisWithCas;
  }

  plan(): CachePlan {
    return new CachePlan(this.keys);
  }

  /**
   * Runs a read-decide-commit step until it commits: `attempt` answers null when its commit met a
   * moved generation (another replica, or the cycle, wrote in between) and is run again after a
   * short random pause. Steps of this process run one at a time, so they do not keep failing each
   * other's generation check under a burst of writes; other replicas still race through the check.
   */
  step<T>(what: string, attempt: (tryNo: number) => Promise<T | null>): Promise<T> {
    const run = async (): Promise<T> => {
      for (let i = 0; i < MAX_ATTEMPTS; i++) {
        if (i > 0) await backoff(i);
        const result = await attempt(i);
        if (result !== null) return result;
      }
      throw new Error(`the cache kept moving under ${what} (${MAX_ATTEMPTS} attempts)`);
    };
    const result = this.tail.then(run, run);
    this.tail = result.catch(() => undefined);
    return result;
  }

  // ---- the cycle lock (SPEC §8: one cycle at a time per site, whatever the replicas) ----

  /** Takes the site's cycle lock for `ms` if free; true when this `token` holds it. */
  async tryCycleLock(token: string, ms: number): Promise<boolean> {
    return (await this.redis.set(this.keys.cycleLock, token, 'PX', ms, 'NX')) === 'OK';
  }

  async renewCycleLock(token: string, ms: number): Promise<void> {
    await this.redis.eval(RENEW_LUA, 1, this.keys.cycleLock, token, String(ms));
  }

  async releaseCycleLock(token: string): Promise<void> {
    await this.redis.eval(RELEASE_LUA, 1, this.keys.cycleLock, token);
  }

  /** Commits a plan if the cache is still at `gen` (false: unconditionally, for idempotent writes). */
  async commit(plan: CachePlan, gen: string | false): Promise<CommitResult> {
    const args = JSON.stringify({
      gen,
      epoch: plan.epoch ?? false,
      queue: plan.queueKey ?? false,
      capacity: plan.capacity,
      pushes: plan.pushes,
      ops: plan.ops,
    });
    return (await this.redis.ddCas(plan.keys.length, ...plan.keys, args)) as CommitResult;
  }

  /**
   * SPEC §11 durable writes: how many replicas acknowledged everything this connection has written
   * (its last commit), waiting up to `timeoutMs` for `replicas` of them (Redis WAIT). WAIT counts the
   * writes of the connection it is sent on, so it goes through the commit's own connection (on a
   * Redis Cluster: the node that owns the site's slot). It holds that connection meanwhile, and gets
   * a command timeout of its own rather than the client's REDIS_COMMAND_TIMEOUT_MS (ioredis keeps the
   * first timeout a command is given).
   */
  async confirmReplicas(replicas: number, timeoutMs: number): Promise<number> {
    const wait = new Command('wait', [String(replicas), String(timeoutMs)], { replyEncoding: 'utf8' });
    wait.setTimeout(timeoutMs + WAIT_REPLY_GRACE_MS);
    return Number(await nodeForKey(this.redis, this.keys.meta).sendCommand(wait));
  }

  // ---- meta ----

  async meta(): Promise<SiteMeta> {
    return metaOf(await this.redis.hgetall(this.keys.meta));
  }

  /** What a group of local writes starts from (SPEC §6): meta and the queue's length, in one round trip. */
  async writeState(): Promise<{ meta: SiteMeta; queueLength: number }> {
    const [m, queueLength] = pipelined<unknown>(
      await this.redis.pipeline().hgetall(this.keys.meta).llen(this.keys.queue).exec(),
    ) as [Record<string, string>, number];
    return { meta: metaOf(m), queueLength };
  }

  /**
   * SPEC §7: a new epoch whenever the queue state is new (first start, or a Redis that lost its
   * data). HSETNX keeps an existing one; returns the epoch in force and whether it was just drawn.
   */
  async ensureEpoch(candidate: string): Promise<{ epoch: string; fresh: boolean }> {
    // SPEC §11: what was acknowledged under another epoch is never pushed again under this one — in
    // the same script, so no crash leaves a new epoch beside an old acknowledged range.
    const fresh =
      (await this.redis.eval(
        NEW_EPOCH_LUA,
        4,
        this.keys.meta,
        this.keys.acked,
        this.keys.ackRefused,
        this.keys.ackTimes,
        candidate,
      )) === 1;
    return { epoch: fresh ? candidate : (await this.redis.hget(this.keys.meta, 'epoch'))!, fresh };
  }

  /**
   * The site's queue goes on under a new epoch, renumbered from seq 1 in its order, and what was
   * acknowledged under the old one is dropped — one script (SPEC §7, §11). Two callers:
   * - a Redis that went back in time (a failover to a replica that had not received the tail of the
   *   queue, which the MDC already took): its next seqs are ones the MDC has, and would be answered
   *   as replays of other changes;
   * - DomainDB lost a range this site no longer keeps (`carryAfter`: the acknowledged changes kept
   *   after that seq, but those refused at first, head the new queue — DomainDB lost them too, and
   *   no seq of the old epoch can reach it past the hole).
   * `was`: the epoch it replaces; another in force (a cycle whose lock lapsed did it already) is
   * 'conflict'. `record`: a status field and the JSON object to set it to in the same step, with
   * `requeued` added (how many kept changes were carried).
   */
  async restartEpoch(
    epoch: string,
    was: string,
    { carryAfter = -1, record }: { carryAfter?: number; record?: [string, string] } = {},
  ): Promise<{ queued: number; carried: number } | 'conflict'> {
    const k = this.keys;
    const result = (await this.redis.eval(
      RESTART_EPOCH_LUA,
      8,
      k.meta,
      k.queue,
      k.acked,
      k.ackRefused,
      k.ackTimes,
      k.pendingObjects,
      k.pendingDomains,
      k.status,
      epoch,
      was,
      carryAfter,
      record?.[0] ?? '',
      record?.[1] ?? '',
    )) as [number, number] | 'conflict';
    return result === 'conflict' ? result : { queued: result[0], carried: result[1] };
  }

  /**
   * A cache written under an older key layout is dropped — every cache key of the site, by SCAN —
   * keeping the queue, its pending counts, the rejections, the epoch and seq; the next cycle reloads
   * the scope. A fresh cache is just stamped. Returns whether anything was dropped.
   */
  async ensureLayout(): Promise<boolean> {
    if ((await this.redis.hget(this.keys.meta, 'layout')) === CACHE_LAYOUT) return false;
    const keep = new Set([
      this.keys.meta,
      this.keys.queue,
      this.keys.pendingObjects,
      this.keys.pendingDomains,
      this.keys.rejections,
      this.keys.status,
      this.keys.acked,
      this.keys.ackRefused,
      this.keys.ackTimes,
    ]);
    // On a Redis Cluster, SCAN sees one node's keys: the master that owns the site's hash tag.
    const owner = nodeForKey(this.redis, this.keys.meta);
    let dropped = 0;
    let cursor = '0';
    do {
      const [next, keys] = await owner.scan(cursor, 'MATCH', `${this.keys.prefix}*`, 'COUNT', 1000);
      cursor = next;
      const cache = keys.filter((k) => !keep.has(k) && !k.startsWith(this.keys.bullPrefix));
      if (cache.length > 0) dropped += await this.redis.unlink(...cache);
    } while (cursor !== '0');
    await this.redis.hdel(this.keys.meta, 'loaded', 'cursor', 'scrub');
    await this.redis.hset(this.keys.meta, 'layout', CACHE_LAYOUT);
    return dropped > 0;
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

  /** An entity by id within its domain (ids are unique; an entity never changes domain). */
  async entityById(domain: string, id: string): Promise<CachedEntity | undefined> {
    return (await this.entitiesById([{ domain, id }])).get(id);
  }

  async entitiesOf(domain: string): Promise<CachedEntity[]> {
    const all = await this.redis.hvals(this.keys.entities(domain));
    return all.map((raw) => JSON.parse(raw) as CachedEntity);
  }

  /** How many entities the cache holds for a domain: O(1). */
  async entityCount(domain: string): Promise<number> {
    return this.redis.hlen(this.keys.entities(domain));
  }

  /** A domain's entity records and bucket-index members, counted (they must agree): O(1). */
  async indexCounts(domain: string): Promise<{ records: number; indexed: number }> {
    const [records, indexed] = pipelined<number>(
      await this.redis
        .pipeline()
        .hlen(this.keys.entities(domain))
        .zcard(this.keys.entityBuckets(domain))
        .exec(),
    );
    return { records, indexed };
  }

  /** Whoever holds each (domain, kind, name) now, keyed `domain\0kind\0name`: one round trip. */
  async entitiesAt(
    refs: Array<{ domain: string; kind: string; name: string }>,
  ): Promise<Map<string, CachedEntity>> {
    const fieldsByDomain = byDomain(refs, (r) => entityField(r.kind, r.name));
    const out = new Map<string, CachedEntity>();
    if (fieldsByDomain.size === 0) return out;
    const domains = [...fieldsByDomain.keys()];
    const p = this.redis.pipeline();
    for (const d of domains) p.hmget(this.keys.entities(d), ...fieldsByDomain.get(d)!);
    pipelined<Array<string | null>>(await p.exec()).forEach((raws, i) => {
      const fields = [...fieldsByDomain.get(domains[i])!];
      raws.forEach((raw, j) => {
        if (raw) out.set(`${domains[i]}\u0000${fields[j]}`, JSON.parse(raw) as CachedEntity);
      });
    });
    return out;
  }

  /** Domains a load has started and not finished (SPEC §8: served only once complete). */
  async loadingDomains(): Promise<string[]> {
    return this.redis.smembers(this.keys.loading);
  }

  // ---- batched reads for a page (a fixed number of round trips, whatever the page or the cache) ----

  /** The cached domain records of these ids (absent ids are left out): two round trips. */
  async domainsById(ids: string[]): Promise<Map<string, CachedDomain>> {
    const unique = [...new Set(ids)];
    if (unique.length === 0) return new Map();
    const names = (await this.redis.hmget(this.keys.domainIds, ...unique)).filter(
      (n): n is string => n !== null,
    );
    const out = new Map<string, CachedDomain>();
    for (const d of await this.domains([...new Set(names)])) if (d) out.set(d.domain.id, d);
    return out;
  }

  /** The cached entities of these ids, each in its domain (absent ids are left out): two round trips. */
  async entitiesById(refs: Array<{ domain: string; id: string }>): Promise<Map<string, CachedEntity>> {
    const idsByDomain = byDomain(refs, (r) => r.id);
    const out = new Map<string, CachedEntity>();
    if (idsByDomain.size === 0) return out;
    const domains = [...idsByDomain.keys()];
    const lookup = this.redis.pipeline();
    for (const d of domains) lookup.hmget(this.keys.entityIds(d), ...idsByDomain.get(d)!);
    const fields = pipelined<Array<string | null>>(await lookup.exec()).map((f) =>
      f.filter((x): x is string => x !== null),
    );
    const read = this.redis.pipeline();
    let any = false;
    domains.forEach((d, i) => {
      if (fields[i].length === 0) return;
      any = true;
      read.hmget(this.keys.entities(d), ...fields[i]);
    });
    if (!any) return out;
    const wanted = new Set(refs.map((r) => r.id));
    for (const raws of pipelined<Array<string | null>>(await read.exec()))
      for (const raw of raws) {
        if (!raw) continue;
        const e = JSON.parse(raw) as CachedEntity;
        // a name reused by a newer entity leaves the old id pointing at it: only the id's own entity counts
        if (wanted.has(e.entity.id)) out.set(e.entity.id, e);
      }
    return out;
  }

  /**
   * SPEC §8 rolling scrub: the next `n` entities of a domain in (bucket, name) order after
   * `lastField` (else from bucket `bucket`), with their records, and the domain's bucket digests —
   * read in two round trips whatever the domain's size. `resumed` is false when `lastField` was given
   * but is gone (the chunk starts at `bucket` again).
   */
  async scrubChunk(
    domain: string,
    lastField: string,
    bucket: number,
    n: number,
  ): Promise<{
    resumed: boolean;
    members: Array<{ field: string; bucket: number; cached: CachedEntity | null }>;
    buckets: Map<number, DomainDigest>;
  }> {
    const [found, scored] = (await this.redis.eval(
      SCRUB_CHUNK_LUA,
      1,
      this.keys.entityBuckets(domain),
      lastField,
      String(bucket),
      String(n),
    )) as [number, string[]];
    const fields: string[] = [];
    const scores: number[] = [];
    for (let i = 0; i < scored.length; i += 2) {
      fields.push(scored[i]);
      scores.push(Number(scored[i + 1]));
    }
    const p = this.redis.pipeline().hgetall(this.keys.bucketDigests(domain));
    if (fields.length > 0) p.hmget(this.keys.entities(domain), ...fields);
    const [digests, raws = []] = pipelined<unknown>(await p.exec()) as [
      Record<string, string>,
      Array<string | null>?,
    ];
    return {
      resumed: lastField === '' || found === 1,
      members: fields.map((field, i) => ({
        field,
        bucket: scores[i],
        cached: raws[i] ? (JSON.parse(raws[i]!) as CachedEntity) : null,
      })),
      buckets: new Map(Object.entries(digests).map(([b, raw]) => [Number(b), decodeDigest(raw)])),
    };
  }

  /** Members of these buckets for several domains at once: one pipeline, then one for the records. */
  async bucketMembersOf(
    ranges: Array<{ domain: string; from: number; to: number }>,
  ): Promise<Map<string, Map<string, { bucket: number; cached: CachedEntity | null }>>> {
    const out = new Map<string, Map<string, { bucket: number; cached: CachedEntity | null }>>();
    if (ranges.length === 0) return out;
    const p = this.redis.pipeline();
    for (const r of ranges) p.zrangebyscore(this.keys.entityBuckets(r.domain), r.from, r.to, 'WITHSCORES');
    const scored = pipelined<string[]>(await p.exec());
    const read = this.redis.pipeline();
    const pending: Array<{ domain: string; fields: string[]; buckets: number[] }> = [];
    ranges.forEach((r, i) => {
      const fields: string[] = [];
      const buckets: number[] = [];
      for (let j = 0; j < scored[i].length; j += 2) {
        fields.push(scored[i][j]);
        buckets.push(Number(scored[i][j + 1]));
      }
      if (!out.has(r.domain)) out.set(r.domain, new Map());
      if (fields.length === 0) return;
      pending.push({ domain: r.domain, fields, buckets });
      read.hmget(this.keys.entities(r.domain), ...fields);
    });
    if (pending.length === 0) return out;
    pipelined<Array<string | null>>(await read.exec()).forEach((raws, i) => {
      const { domain, fields, buckets } = pending[i];
      const members = out.get(domain)!;
      fields.forEach((f, j) => {
        const raw = raws[j];
        members.set(f, { bucket: buckets[j], cached: raw ? (JSON.parse(raw) as CachedEntity) : null });
      });
    });
    return out;
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
    return (await this.digestState(names, new Map())).domains;
  }

  /** A domain's non-empty bucket digests. */
  async bucketDigests(domain: string): Promise<Map<number, DomainDigest>> {
    const all = await this.redis.hgetall(this.keys.bucketDigests(domain));
    return new Map(Object.entries(all).map(([b, raw]) => [Number(b), decodeDigest(raw)]));
  }

  /**
   * The digests a step moves, in one round trip: these served domains' digests, and these buckets'
   * (`'all'`: every bucket of the domain).
   */
  async digestState(
    domains: string[],
    buckets: Map<string, Iterable<number> | 'all'>,
  ): Promise<{ domains: Map<string, DomainDigest>; buckets: Map<string, Map<number, DomainDigest>> }> {
    const out = {
      domains: new Map<string, DomainDigest>(),
      buckets: new Map<string, Map<number, DomainDigest>>(),
    };
    const names = [...new Set(domains)];
    const wanted = [...buckets].map(
      ([d, b]) => [d, b === 'all' ? 'all' : [...new Set(b)].map(String)] as const,
    );
    if (names.length === 0 && wanted.length === 0) return out;
    const p = this.redis.pipeline();
    if (names.length > 0) p.hmget(this.keys.digests, ...names);
    for (const [d, b] of wanted) {
      if (b === 'all') p.hgetall(this.keys.bucketDigests(d));
      else if (b.length > 0) p.hmget(this.keys.bucketDigests(d), ...b);
    }
    const replies = pipelined<unknown>(await p.exec());
    let i = 0;
    if (names.length > 0) {
      const raws = replies[i++] as Array<string | null>;
      names.forEach((n, j) => {
        const raw = raws[j];
        if (raw) out.domains.set(n, decodeDigest(raw));
      });
    }
    for (const [d, b] of wanted) {
      const got = new Map<number, DomainDigest>();
      out.buckets.set(d, got);
      if (b === 'all') {
        for (const [k, raw] of Object.entries(replies[i++] as Record<string, string>))
          got.set(Number(k), decodeDigest(raw));
      } else if (b.length > 0) {
        const raws = replies[i++] as Array<string | null>;
        b.forEach((k, j) => {
          const raw = raws[j];
          if (raw) got.set(Number(k), decodeDigest(raw));
        });
      }
    }
    return out;
  }

  async pendingIds(ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const counts = await this.redis.hmget(this.keys.pendingObjects, ...ids);
    return new Set(ids.filter((_, i) => Number(counts[i] ?? 0) > 0));
  }

  /** The domain has local changes still queued (its own, or its entities'). */
  async domainPending(name: string): Promise<boolean> {
    return Number((await this.redis.hget(this.keys.pendingDomains, name)) ?? 0) > 0;
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

  /**
   * `count` entries from the `start`-th on, and how many are queued from there to the tail: one
   * round trip (the push reads the next batch while the last one's dequeue is still to commit).
   */
  async queueWindow(
    start: number,
    count: number,
    /** the entries stop before passing this many bytes of JSON (always at least one is taken) */
    maxBytes = Infinity,
  ): Promise<{ entries: QueueEntry[]; remaining: number }> {
    const [raws, length] = pipelined<unknown>(
      await this.redis
        .multi()
        .lrange(this.keys.queue, start, start + count - 1)
        .llen(this.keys.queue)
        .exec(),
    ) as [string[], number];
    let bytes = 0;
    let taken = 0;
    while (taken < raws.length && (taken === 0 || bytes + Buffer.byteLength(raws[taken]) <= maxBytes)) {
      bytes += Buffer.byteLength(raws[taken]);
      taken++;
    }
    return {
      entries: raws.slice(0, taken).map((raw) => JSON.parse(raw) as QueueEntry),
      remaining: Math.max(0, length - start),
    };
  }

  /**
   * SPEC §11: the acknowledged changes kept after `seq`, in seq order — at most `count`, stopping
   * before `maxBytes` of JSON (always at least one) — each refused at first with its `refused` code.
   */
  async ackedAfter(seq: number, count: number, maxBytes = Infinity): Promise<AckedEntry[]> {
    const [raws, refusals] = pipelined<string[]>(
      await this.redis
        .pipeline()
        .zrangebyscore(this.keys.acked, `(${seq}`, '+inf', 'LIMIT', 0, count)
        .zrangebyscore(this.keys.ackRefused, `(${seq}`, '+inf', 'LIMIT', 0, count)
        .exec(),
    );
    // refusals are a subset of `acked`: those of the first `count` entries are among its first `count`
    const codes = new Map(
      refusals.map((r) => [Number(r.slice(0, r.indexOf(':'))), r.slice(r.indexOf(':') + 1) as RuleCode]),
    );
    const entries: AckedEntry[] = [];
    let bytes = 0;
    for (const raw of raws) {
      bytes += Buffer.byteLength(raw);
      if (entries.length > 0 && bytes > maxBytes) break;
      const entry = JSON.parse(raw) as AckedEntry;
      const refused = codes.get(entry.seq);
      entries.push(refused ? { ...entry, refused } : entry);
    }
    return entries;
  }

  /** The highest seq the MDC acknowledged among those kept (0: none kept). */
  async lastAcked(): Promise<number> {
    const [, score] = await this.redis.zrange(this.keys.acked, '-1', '-1', 'WITHSCORES');
    return score === undefined ? 0 : Number(score);
  }

  /**
   * What a cycle's pull starts from, in one step: meta; `ackedThrough`, the highest seq of the epoch
   * the MDC decided — `meta.seq` less the queue's length, since the queue holds exactly the seqs not
   * decided yet, so it holds when what was acknowledged is no longer kept (SPEC §11: a DomainDB that
   * lost more than the site keeps is still noticed); and when the oldest kept batch was decided (ms;
   * null: none kept).
   */
  async pullState(): Promise<{ meta: SiteMeta; ackedThrough: number; oldestAck: number | null }> {
    const [m, queued, oldest] = pipelined<unknown>(
      await this.redis
        .multi()
        .hgetall(this.keys.meta)
        .llen(this.keys.queue)
        .zrange(this.keys.ackTimes, '0', '0', 'WITHSCORES')
        .exec(),
    ) as [Record<string, string>, number, string[]];
    const meta = metaOf(m);
    return {
      meta,
      ackedThrough: Math.max(0, meta.seq - queued),
      oldestAck: oldest.length === 2 ? Number(oldest[1]) : null,
    };
  }

  /** See `pullState`. */
  async ackedThrough(): Promise<number> {
    return (await this.pullState()).ackedThrough;
  }

  async queueAll(): Promise<QueueEntry[]> {
    return this.queueHead(0);
  }

  /** newest first */
  async rejections(limit: number): Promise<Rejection[]> {
    const raws = await this.redis.lrange(this.keys.rejections, 0, limit - 1);
    return raws.map((raw) => JSON.parse(raw) as Rejection);
  }

  async status(): Promise<Record<string, string>> {
    return this.redis.hgetall(this.keys.status);
  }

  /** The node that holds the site's keys answers (on a Redis Cluster, any other node could). */
  async ping(): Promise<void> {
    await nodeForKey(this.redis, this.keys.meta).ping();
  }

  /**
   * Everything the rules read for a group of local writes (SPEC §6: a fixed number of round trips
   * for the whole group): the domains they name, the entities at the names they address and at the
   * ids they carry, and for a domain delete its subtree. Read after `writeState()`: a commit at the
   * generation it gave proves nothing changed in between.
   */
  async loadFor(writes: Write[], subtreeOf: string[] = []): Promise<LoadedCache> {
    const names = new Set<string>();
    const atNames: Array<{ domain: string; kind: string; name: string }> = [];
    const byId: Array<{ domain: string; id: string }> = [];
    for (const w of writes) {
      switch (w.op) {
        case 'domain.create':
          names.add(w.name);
          if (w.parent) names.add(w.parent);
          break;
        case 'domain.update':
        case 'domain.delete':
          names.add(w.name);
          break;
        default:
          names.add(w.domain);
          atNames.push({ domain: w.domain, kind: w.kind, name: w.name });
          if (w.id !== undefined) byId.push({ domain: w.domain, id: w.id });
      }
    }
    // A delete needs the subtree (children for has_children; everything for recursive): a level a round trip.
    const subtree = new Set<string>();
    for (let level = subtreeOf.filter((n) => !subtree.has(n)); level.length > 0;) {
      for (const name of level) subtree.add(name);
      const p = this.redis.pipeline();
      for (const name of level) p.zrange(this.keys.kids(name), '0', '-1');
      level = [...new Set(pipelined<string[]>(await p.exec()).flat())].filter((n) => !subtree.has(n));
    }
    const [cached, atName, ofIds, whole] = await Promise.all([
      this.domains([...new Set([...names, ...subtree])]),
      this.entitiesAt(atNames),
      this.entitiesById(byId),
      this.entitiesOfAll([...subtree]),
    ]);
    const domains = new Map<string, Domain>();
    const unscoped = new Set<string>();
    for (const d of cached) {
      if (!d) continue;
      domains.set(d.domain.id, d.domain);
      if (!d.scoped) unscoped.add(d.domain.name);
    }
    const entities = new Map<string, Entity>();
    for (const e of [...atName.values(), ...ofIds.values(), ...whole]) entities.set(e.entity.id, e.entity);
    return {
      view: new MemoryDirectory([...domains.values()], [...entities.values()]),
      domains,
      entities,
      unscoped,
    };
  }

  /** Every cached entity of these domains: one round trip. */
  private async entitiesOfAll(domains: string[]): Promise<CachedEntity[]> {
    if (domains.length === 0) return [];
    const p = this.redis.pipeline();
    for (const d of domains) p.hvals(this.keys.entities(d));
    return pipelined<string[]>(await p.exec())
      .flat()
      .map((raw) => JSON.parse(raw) as CachedEntity);
  }
}

function metaOf(m: Record<string, string>): SiteMeta {
  return {
    epoch: m.epoch,
    seq: Number(m.seq ?? 0),
    cursor: m.cursor ?? '0',
    loaded: m.loaded === '1',
    gen: m.gen ?? '0',
    scrub: m.scrub ?? '',
  };
}

/** Each domain's distinct keys (ids, fields) among these references, for one HMGET per domain. */
function byDomain<R extends { domain: string }>(refs: R[], key: (r: R) => string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const r of refs) {
    let keys = out.get(r.domain);
    if (!keys) out.set(r.domain, (keys = new Set()));
    keys.add(key(r));
  }
  return out;
}

/** A pipeline's replies, failing on the first command that failed. */
function pipelined<T>(results: Array<[Error | null, unknown]> | null): T[] {
  if (!results) throw new Error('the Redis pipeline was discarded');
  return results.map(([error, reply]) => {
    if (error) throw error;
    return reply as T;
  });
}

/** A short random pause before retrying a step another writer beat, so they do not collide in step. */
function backoff(attempt: number): Promise<void> {
  const ms = Math.min(50, 2 ** attempt) * Math.random();
  return new Promise((resolve) => setTimeout(resolve, ms));
}
