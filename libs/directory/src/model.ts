/** SPEC §3: the objects of the directory, as every site sees them. Pure types, no I/O. */

export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export interface Domain {
  id: string;
  name: string;
  /** null for a first-level domain */
  parent: string | null;
  settings: JsonObject;
  /** change-log number at the MDC (opaque string; provisional `<v>+<site>.<seq>` at an SDC) */
  version: string;
  createdAt: string;
  updatedAt: string;
}

export interface Entity {
  id: string;
  /** the owning domain's name */
  domain: string;
  kind: string;
  name: string;
  attributes: JsonObject;
  version: string;
  createdAt: string;
  updatedAt: string;
}

/** A deleted object, kept long enough for every site to learn of the delete (SPEC §3). */
export interface Tombstone {
  id: string;
  type: 'domain' | 'entity';
  domain: string;
  version: string;
  deletedAt: string;
}

/**
 * A change as admitted at one site and carried to the MDC (SPEC §6, §7).
 * Targets are addressed by `id`; names travel along for uniqueness checks and for people.
 */
export type Change =
  | { op: 'domain.create'; id: string; name: string; parent: string | null; settings: JsonObject }
  | { op: 'domain.update'; id: string; name: string; patch: JsonObject }
  | { op: 'domain.delete'; id: string; name: string; recursive: boolean }
  | { op: 'entity.create'; id: string; domain: string; kind: string; name: string; attributes: JsonObject }
  | { op: 'entity.update'; id: string; domain: string; kind: string; name: string; patch: JsonObject }
  | { op: 'entity.delete'; id: string; domain: string; kind: string; name: string };

/** A change whose target is a domain (the others target an entity of one). */
export type DomainChange = Extract<Change, { op: `domain.${string}` }>;

export function isDomainChange(change: Change): change is DomainChange {
  return change.op === 'domain.create' || change.op === 'domain.update' || change.op === 'domain.delete';
}

/** SPEC §7: the domain a change is about (its own name for a domain, its owner's for an entity). */
export function targetDomain(change: Change): string {
  return isDomainChange(change) ? change.name : change.domain;
}

/** The change's target as people read it: `domain`, or `domain/kind/name` for an entity. */
export function targetPath(change: Change): string {
  return isDomainChange(change) ? change.name : `${change.domain}/${change.kind}/${change.name}`;
}

/** The error codes of SPEC §5 that a rule can give. */
export const RULE_CODES = [
  'validation_failed',
  'forbidden',
  'domain_not_found',
  'entity_not_found',
  'already_exists',
  'has_children',
  'version_conflict',
  'payload_too_large',
] as const;
export type RuleCode = (typeof RULE_CODES)[number];

/** What a change did to one object, to be written by the store that decided it. */
export type Effect =
  | { type: 'domain.put'; domain: Omit<Domain, 'version' | 'createdAt' | 'updatedAt'>; created: boolean }
  | { type: 'domain.delete'; id: string; name: string }
  | { type: 'entity.put'; entity: Omit<Entity, 'version' | 'createdAt' | 'updatedAt'>; created: boolean }
  | { type: 'entity.delete'; id: string; domain: string };

export type Verdict =
  | { ok: true; effects: Effect[] }
  | { ok: false; code: RuleCode; message: string; winner: Domain | Entity | Tombstone | null };
