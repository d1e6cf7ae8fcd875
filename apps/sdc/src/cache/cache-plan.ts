import { bucketOf, Domain, DomainDigest, Entity, elementHash, RuleCode } from '@dd/directory';
import { CacheKeys, entityField } from './cache-keys';

/** A domain as the site holds it: settings only when the site serves it (`scoped`). */
export interface CachedDomain {
  domain: Domain;
  scoped: boolean;
  /** element hash (hex) as counted in the domain's digest; '' when not counted (out of scope) */
  h: string;
}

export interface CachedEntity {
  entity: Entity;
  h: string;
}

export function hashHex(o: Domain | Entity, hash: (o: Domain | Entity) => bigint = elementHash): string {
  return hash(o).toString(16).padStart(16, '0');
}

export function encodeDigest(d: DomainDigest): string {
  return `${d.count}:${d.sum}`;
}

export function decodeDigest(raw: string): DomainDigest {
  const [count, sum] = raw.split(':');
  return { count: Number(count), sum };
}

/** How the acknowledged changes are kept (SPEC §11): since `now - retentionMs`, at most `max`. */
export interface AckKeeping {
  now: number;
  retentionMs: number;
  max: number;
}

type Op = [string, number, ...Array<string | number>];

/**
 * The writes of one atomic cache step, in the order given; `commit` sends them to the Lua script.
 * Index maintenance (names, kids, ids, entity order) is derived here, so callers say only what an
 * object now is or that it is gone.
 */
export class CachePlan {
  private readonly keyIndex = new Map<string, number>();
  readonly keys: string[] = [];
  readonly ops: Op[] = [];
  queueKey: number | undefined;
  /** the step commits only while the site's epoch is this one (a dequeue: not after a renumbering) */
  epoch: string | undefined;
  capacity = 0;
  /** entries this step appends to the submit queue */
  pushes = 0;

  constructor(private readonly k: CacheKeys) {
    this.key(k.meta); // KEYS[1] is always meta
  }

  private key(name: string): number {
    let i = this.keyIndex.get(name);
    if (i === undefined) {
      this.keys.push(name);
      i = this.keys.length;
      this.keyIndex.set(name, i);
    }
    return i;
  }

  private op(name: string, key: string, ...args: Array<string | number>): this {
    this.ops.push([name, this.key(key), ...args]);
    return this;
  }

  putDomain(d: CachedDomain): this {
    this.op('hset', this.k.domains, d.domain.name, JSON.stringify(d));
    this.op('hset', this.k.domainIds, d.domain.id, d.domain.name);
    this.op('zadd', this.k.names, d.domain.name);
    return this.op('zadd', this.k.kids(d.domain.parent), d.domain.name);
  }

  /** Removes a domain from the tree, with its entities, their indexes and its digests. */
  dropDomain(domain: Pick<Domain, 'id' | 'name' | 'parent'>): this {
    this.op('hdel', this.k.domains, domain.name);
    this.op('hdel', this.k.domainIds, domain.id);
    this.op('zrem', this.k.names, domain.name);
    this.op('zrem', this.k.kids(domain.parent), domain.name);
    this.clearEntities(domain.name);
    return this.op('hdel', this.k.digests, domain.name);
  }

  /**
   * Forgets a domain's entities, their indexes and bucket digests (a domain leaving the scope, or
   * gone): a few UNLINKs, whatever the domain's size — Redis frees the memory in the background.
   */
  clearEntities(domain: string): this {
    for (const key of this.k.domainEntityKeys(domain)) this.op('unlink', key);
    return this;
  }

  putEntity(e: CachedEntity): this {
    const { domain, kind, name, id } = e.entity;
    const field = entityField(kind, name);
    this.op('hset', this.k.entities(domain), field, JSON.stringify(e));
    this.op('zadd', this.k.entityOrder(domain), field);
    this.op('hset', this.k.entityIds(domain), id, field);
    return this.op('zadds', this.k.entityBuckets(domain), bucketOf(id), field);
  }

  dropEntity(e: Pick<Entity, 'id' | 'domain' | 'kind' | 'name'>): this {
    const field = entityField(e.kind, e.name);
    this.op('hdel', this.k.entities(e.domain), field);
    this.op('zrem', this.k.entityOrder(e.domain), field);
    this.op('hdel', this.k.entityIds(e.domain), e.id);
    return this.op('zrem', this.k.entityBuckets(e.domain), field);
  }

  /** A served domain's digest (null: it is not served, or gone). */
  setDigest(domain: string, digest: DomainDigest | null): this {
    return digest === null
      ? this.op('hdel', this.k.digests, domain)
      : this.op('hset', this.k.digests, domain, encodeDigest(digest));
  }

  /** One bucket's digest (null or empty: nothing cached in it). */
  setBucketDigest(domain: string, bucket: number, digest: DomainDigest | null): this {
    return digest === null || digest.count === 0
      ? this.op('hdel', this.k.bucketDigests(domain), String(bucket))
      : this.op('hset', this.k.bucketDigests(domain), String(bucket), encodeDigest(digest));
  }

  /** Marks a domain as being loaded whole, or no longer. */
  setLoading(domain: string, loading: boolean): this {
    return this.op(loading ? 'sadd' : 'srem', this.k.loading, domain);
  }

  setMeta(field: string, value: string): this {
    return this.op('hset', this.k.meta, field, value);
  }

  /** Counts a queued change against the objects and domains it touches (`pending: true`). */
  markPending(ids: Iterable<string>, domains: Iterable<string>, by: 1 | -1): this {
    for (const id of ids) this.op('hincr', this.k.pendingObjects, id, by);
    for (const d of domains) this.op('hincr', this.k.pendingDomains, d, by);
    return this;
  }

  /** Appends to the submit queue; the step is refused as a whole if the queue would pass `capacity`. */
  enqueue(entry: string, capacity: number): this {
    this.queueKey = this.key(this.k.queue);
    this.capacity = capacity;
    this.pushes += 1;
    return this.op('rpush', this.k.queue, entry);
  }

  /**
   * Takes these entries, the queue's head as decided by the MDC, off it — those still there: the
   * script moves the head's entries up to the last seq decided, never one queued after it — and
   * uncounts what they touched (one counter step per object and domain). They are kept as
   * acknowledged (SPEC §11 failover without loss) — those of the last `keep.retentionMs`, at most
   * `keep.max` — so a range DomainDB loses in a failover can be pushed again.
   */
  dequeueDecided(
    entries: Array<{ seq: number; ids: string[]; domains: string[]; refused?: RuleCode }>,
    keep: AckKeeping,
  ): this {
    if (entries.length === 0) return this;
    const objects = new Map<string, number>();
    const domains = new Map<string, number>();
    for (const e of entries) {
      for (const id of e.ids) objects.set(id, (objects.get(id) ?? 0) + 1);
      for (const d of e.domains) domains.set(d, (domains.get(d) ?? 0) + 1);
    }
    this.op(
      'ackmove',
      this.k.queue,
      this.key(this.k.acked),
      this.key(this.k.ackRefused),
      this.key(this.k.ackTimes),
      keep.now,
      keep.now - keep.retentionMs,
      keep.max,
      ...entries.map((e) => (e.refused ? `${e.seq}:${e.refused}` : e.seq)),
    );
    for (const [id, n] of objects) this.op('hincr', this.k.pendingObjects, id, -n);
    for (const [d, n] of domains) this.op('hincr', this.k.pendingDomains, d, -n);
    return this;
  }

  /** SPEC §11: the acknowledged changes older than `keep.retentionMs`, and all but the newest `keep.max`, go. */
  trimAcked(keep: AckKeeping): this {
    return this.op(
      'acktrim',
      this.k.acked,
      this.key(this.k.ackRefused),
      this.key(this.k.ackTimes),
      keep.now - keep.retentionMs,
      keep.max,
    );
  }

  /** SPEC §11: nothing acknowledged is kept (a new epoch: those seqs are another epoch's). */
  dropAcked(): this {
    this.op('del', this.k.acked);
    this.op('del', this.k.ackRefused);
    return this.op('del', this.k.ackTimes);
  }

  /** The whole submit queue replaced by these entries, in order (a queue renumbered under a new epoch). */
  replaceQueue(entries: string[]): this {
    this.op('del', this.k.queue);
    for (const entry of entries) this.op('rpush', this.k.queue, entry);
    return this;
  }

  recordRejection(entry: string, keep: number): this {
    return this.op('lpush', this.k.rejections, entry, keep);
  }

  setStatus(field: string, value: string): this {
    return this.op('hset', this.k.status, field, value);
  }

  clearStatus(field: string): this {
    return this.op('hdel', this.k.status, field);
  }
}
