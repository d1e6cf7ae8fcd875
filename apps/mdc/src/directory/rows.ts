import type { Domain, Entity, JsonObject, Tombstone } from '@dd/directory';

/** Rows as `pg` returns them: bigint as string, timestamptz as Date, jsonb parsed. */
export interface DomainRecord {
  id: string;
  name: string;
  parent: string | null;
  settings: JsonObject;
  version: string;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
}

export interface EntityRecord {
  id: string;
  domain: string;
  kind: string;
  name: string;
  attributes: JsonObject;
  version: string;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
}

export function toDomain(r: DomainRecord): Domain {
  return {
    id: r.id,
    name: r.name,
    parent: r.parent,
    settings: r.settings ?? {},
    version: String(r.version),
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

export function toEntity(r: EntityRecord): Entity {
  return {
    id: r.id,
    domain: r.domain,
    kind: r.kind,
    name: r.name,
    attributes: r.attributes ?? {},
    version: String(r.version),
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

export function domainTombstone(r: DomainRecord, deletedAt: Date): Tombstone {
  return {
    id: r.id,
    type: 'domain',
    domain: r.name,
    version: String(r.version),
    deletedAt: deletedAt.toISOString(),
  };
}

export function entityTombstone(r: EntityRecord, deletedAt: Date): Tombstone {
  return {
    id: r.id,
    type: 'entity',
    domain: r.domain,
    version: String(r.version),
    deletedAt: deletedAt.toISOString(),
  };
}

/** The JSON shape `jsonb_populate_recordset` reads back into a row of `domains`. */
export function domainRowJson(d: Domain, deletedAt: string | null) {
  return {
    id: d.id,
    name: d.name,
    parent: d.parent,
    settings: d.settings,
    version: d.version,
    created_at: d.createdAt,
    updated_at: d.updatedAt,
    deleted_at: deletedAt,
  };
}

export function entityRowJson(e: Entity, deletedAt: string | null) {
  return {
    id: e.id,
    domain: e.domain,
    kind: e.kind,
    name: e.name,
    attributes: e.attributes,
    version: e.version,
    created_at: e.createdAt,
    updated_at: e.updatedAt,
    deleted_at: deletedAt,
  };
}
