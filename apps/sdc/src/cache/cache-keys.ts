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
  /** entity id → `domain\0kind\0name` */
  get entityIds() {
    return `${this.prefix}entid`;
  }
  /** domain → `count:sum` */
  get digests() {
    return `${this.prefix}dg`;
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

/** Kinds and names never contain NUL, so it separates them unambiguously. */
export function entityField(kind: string, name: string): string {
  return `${kind}\u0000${name}`;
}

export function entityLocator(domain: string, kind: string, name: string): string {
  return `${domain}\u0000${kind}\u0000${name}`;
}

export function parseLocator(locator: string): { domain: string; kind: string; name: string } {
  const [domain, kind, name] = locator.split('\u0000');
  return { domain, kind, name };
}
