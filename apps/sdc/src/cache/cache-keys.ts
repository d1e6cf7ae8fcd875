/**
 * The site's Redis keys (docs/ARCHITECTURE.md, SDC). Every key carries the hash tag `{site}` so a
 * site's Lua scripts and BullMQ queues work on a Redis Cluster (SPEC §11).
 */
export class CacheKeys {
  readonly prefix: string;

  constructor(site: string) {
    this.prefix = `{${site}}:`;
  }

  get meta() {
    return `${this.prefix}meta`;
  }
  /** domain name → CachedDomain JSON (the whole tree) */
  get domains() {
    return `${this.prefix}dom`;
  }
  /** domain id → name */
  get domainIds() {
    return `${this.prefix}domid`;
  }
  /** every domain name, for listing in name order */
  get names() {
    return `${this.prefix}names`;
  }
  /** child names of `parent` (null: the first level) */
  kids(parent: string | null) {
    return `${this.prefix}kids:${parent ?? ''}`;
  }
  /** `kind\0name` → CachedEntity JSON */
  entities(domain: string) {
    return `${this.prefix}ent:${domain}`;
  }
  /** `kind\0name` in order, for paging */
  entityOrder(domain: string) {
    return `${this.prefix}entz:${domain}`;
  }
  /** entity id → `kind\0name`, per domain (a dropped domain's keys go with it in O(1)) */
  entityIds(domain: string) {
    return `${this.prefix}entid:${domain}`;
  }
  /** `kind\0name` scored by the entity's digest bucket (SPEC §8: a bucket's members, for its scrub and repair) */
  entityBuckets(domain: string) {
    return `${this.prefix}entb:${domain}`;
  }
  /** domains being loaded whole (SPEC §8: not served until complete), so a load cut short is cleaned up */
  get loading() {
    return `${this.prefix}loading`;
  }
  /** served domain → `count:sum` (its record plus every bucket) */
  get digests() {
    return `${this.prefix}dg`;
  }
  /** bucket → `count:sum` of the domain's cached entities in that bucket */
  bucketDigests(domain: string) {
    return `${this.prefix}dgb:${domain}`;
  }
  /** every key that holds a domain's entities and their digests */
  domainEntityKeys(domain: string): string[] {
    return [
      this.entities(domain),
      this.entityOrder(domain),
      this.entityIds(domain),
      this.entityBuckets(domain),
      this.bucketDigests(domain),
    ];
  }
  /** object id → number of queued changes touching it */
  get pendingObjects() {
    return `${this.prefix}pend`;
  }
  /** domain → number of queued changes touching it */
  get pendingDomains() {
    return `${this.prefix}penddom`;
  }
  get queue() {
    return `${this.prefix}queue`;
  }
  /**
   * queue entry JSON scored by its seq: the changes the MDC decided lately (SPEC §11 failover
   * without loss)
   */
  get acked() {
    return `${this.prefix}acked`;
  }
  /** `seq:code` scored by seq: those of `acked` the MDC refused at first, with the code */
  get ackRefused() {
    return `${this.prefix}ackrej`;
  }
  /** a decided batch's last seq scored by when it was decided (ms): what the retention trims by */
  get ackTimes() {
    return `${this.prefix}ackat`;
  }
  get rejections() {
    return `${this.prefix}rej`;
  }
  get status() {
    return `${this.prefix}status`;
  }
  /** BullMQ's prefix for the sync-cycle queue: same hash tag */
  get bullPrefix() {
    return `${this.prefix}bull`;
  }
  /** who runs the site's sync cycle now (SPEC §8) */
  get cycleLock() {
    return `${this.bullPrefix}:cycle-lock`;
  }
}

/**
 * The cache's key layout. A cache of an older layout is dropped (its queue kept) and reloaded:
 * 2 = per-domain id index, bucket index and bucket digests.
 */
export const CACHE_LAYOUT = '2';

/** Kinds and names never contain NUL, so it separates them unambiguously. */
export function entityField(kind: string, name: string): string {
  return `${kind}\u0000${name}`;
}
