/**
 * SPEC §7: the state the conflict rules read. The MDC wraps the rows it loaded for a batch in a
 * MemoryDirectory, and a DirectoryOverlay lets each change of the batch see the ones before it.
 */
import type { Domain, Effect, Entity, Tombstone } from './model';

export interface DirectoryView {
  /** a Tombstone if deleted */
  domainById(id: string): Domain | Tombstone | undefined;
  /** live only */
  domainByName(name: string): Domain | undefined;
  /** a Tombstone if deleted */
  entityById(id: string): Entity | Tombstone | undefined;
  /** live only */
  entityByKey(domain: string, kind: string, name: string): Entity | undefined;
  /** live direct children */
  childDomains(name: string): Domain[];
  /** live entities of that domain */
  entitiesOf(domain: string): Entity[];
}

export function isTombstone(x: Domain | Entity | Tombstone | null | undefined): x is Tombstone {
  return x != null && 'deletedAt' in x;
}

// Kinds and names never contain '/' (SPEC §3), so the key is unambiguous.
function entityKey(domain: string, kind: string, name: string): string {
  return `${domain}/${kind}/${name}`;
}

/** Adds `item` to the list kept under `key`. */
function addTo<K, V>(index: Map<K, Map<string, V>>, key: K, id: string, item: V): void {
  const bucket = index.get(key) ?? new Map<string, V>();
  bucket.set(id, item);
  index.set(key, bucket);
}

/** A fixed set of objects held in memory. */
export class MemoryDirectory implements DirectoryView {
  private readonly domainsById = new Map<string, Domain | Tombstone>();
  private readonly domainsByName = new Map<string, Domain>();
  private readonly entitiesById = new Map<string, Entity | Tombstone>();
  private readonly entitiesByKey = new Map<string, Entity>();
  private readonly children = new Map<string, Map<string, Domain>>();
  private readonly entitiesByDomain = new Map<string, Map<string, Entity>>();

  constructor(domains: Domain[] = [], entities: Entity[] = [], tombstones: Tombstone[] = []) {
    // Tombstones first, so a live object with the same id (which DomainDB never holds) would prevail.
    for (const t of tombstones) (t.type === 'domain' ? this.domainsById : this.entitiesById).set(t.id, t);
    for (const d of domains) {
      this.domainsById.set(d.id, d);
      this.domainsByName.set(d.name, d);
      if (d.parent !== null) addTo(this.children, d.parent, d.id, d);
    }
    for (const e of entities) {
      this.entitiesById.set(e.id, e);
      this.entitiesByKey.set(entityKey(e.domain, e.kind, e.name), e);
      addTo(this.entitiesByDomain, e.domain, e.id, e);
    }
  }

  domainById(id: string): Domain | Tombstone | undefined {
    return this.domainsById.get(id);
  }

  domainByName(name: string): Domain | undefined {
    return this.domainsByName.get(name);
  }

  entityById(id: string): Entity | Tombstone | undefined {
    return this.entitiesById.get(id);
  }

  entityByKey(domain: string, kind: string, name: string): Entity | undefined {
    return this.entitiesByKey.get(entityKey(domain, kind, name));
  }

  childDomains(name: string): Domain[] {
    return [...(this.children.get(name)?.values() ?? [])];
  }

  entitiesOf(domain: string): Entity[] {
    return [...(this.entitiesByDomain.get(domain)?.values() ?? [])];
  }
}

/**
 * A base view with effects laid on top: puts become live objects carrying the change's version,
 * deletes become tombstones. The base is never modified.
 */
export class DirectoryOverlay implements DirectoryView {
  /** every object an applied effect touched, live or tombstone, by id */
  private readonly domains = new Map<string, Domain | Tombstone>();
  private readonly entities = new Map<string, Entity | Tombstone>();
  /** by name / key: the live object, or null where the overlay deleted it */
  private readonly domainNames = new Map<string, Domain | null>();
  private readonly entityKeys = new Map<string, Entity | null>();
  /** live objects of the overlay, by parent / by domain */
  private readonly children = new Map<string, Map<string, Domain>>();
  private readonly entitiesByDomain = new Map<string, Map<string, Entity>>();

  constructor(private readonly base: DirectoryView) {}

  domainById(id: string): Domain | Tombstone | undefined {
    return this.domains.get(id) ?? this.base.domainById(id);
  }

  domainByName(name: string): Domain | undefined {
    const own = this.domainNames.get(name);
    return own === undefined ? this.base.domainByName(name) : (own ?? undefined);
  }

  entityById(id: string): Entity | Tombstone | undefined {
    return this.entities.get(id) ?? this.base.entityById(id);
  }

  entityByKey(domain: string, kind: string, name: string): Entity | undefined {
    const own = this.entityKeys.get(entityKey(domain, kind, name));
    return own === undefined ? this.base.entityByKey(domain, kind, name) : (own ?? undefined);
  }

  childDomains(name: string): Domain[] {
    const fromBase = this.base.childDomains(name).filter((d) => !this.domains.has(d.id));
    return [...fromBase, ...(this.children.get(name)?.values() ?? [])];
  }

  entitiesOf(domain: string): Entity[] {
    const fromBase = this.base.entitiesOf(domain).filter((e) => !this.entities.has(e.id));
    return [...fromBase, ...(this.entitiesByDomain.get(domain)?.values() ?? [])];
  }

  /** Lays the effects of one accepted change on top, stamped with its version and time. */
  apply(effects: Effect[], version: string, at: string): void {
    for (const effect of effects) {
      switch (effect.type) {
        case 'domain.put': {
          const previous = this.domainById(effect.domain.id);
          const createdAt = !effect.created && previous && !isTombstone(previous) ? previous.createdAt : at;
          const domain: Domain = { ...effect.domain, version, createdAt, updatedAt: at };
          this.domains.set(domain.id, domain);
          this.domainNames.set(domain.name, domain);
          if (domain.parent !== null) addTo(this.children, domain.parent, domain.id, domain);
          break;
        }
        case 'domain.delete': {
          const previous = this.domainById(effect.id);
          if (previous && !isTombstone(previous) && previous.parent !== null) {
            this.children.get(previous.parent)?.delete(effect.id);
          }
          this.domains.set(effect.id, {
            id: effect.id,
            type: 'domain',
            domain: effect.name,
            version,
            deletedAt: at,
          });
          this.domainNames.set(effect.name, null);
          break;
        }
        case 'entity.put': {
          const previous = this.entityById(effect.entity.id);
          const createdAt = !effect.created && previous && !isTombstone(previous) ? previous.createdAt : at;
          const entity: Entity = { ...effect.entity, version, createdAt, updatedAt: at };
          this.entities.set(entity.id, entity);
          this.entityKeys.set(entityKey(entity.domain, entity.kind, entity.name), entity);
          addTo(this.entitiesByDomain, entity.domain, entity.id, entity);
          break;
        }
        case 'entity.delete': {
          const previous = this.entityById(effect.id);
          if (previous && !isTombstone(previous)) {
            this.entityKeys.set(entityKey(previous.domain, previous.kind, previous.name), null);
          }
          this.entitiesByDomain.get(effect.domain)?.delete(effect.id);
          this.entities.set(effect.id, {
            id: effect.id,
            type: 'entity',
            domain: effect.domain,
            version,
            deletedAt: at,
          });
          break;
        }
      }
    }
  }
}
