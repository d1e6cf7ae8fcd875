/**
 * SPEC §7: the conflict rules, as pure functions of (current state, incoming change) → Verdict.
 * A batch is decided in order by `decideInOrder` (batch.ts), which calls `decide` for each change.
 */
import { canonicalJson } from './canonical-json';
import { type DirectoryView, isTombstone } from './directory-view';
import { jsonValueProblem } from './json-value';
import { cloneJson, isJsonObject, mergeObjectPatch } from './merge-patch';
import type { Change, Domain, Effect, Entity, JsonObject, RuleCode, Tombstone, Verdict } from './model';
import { checkDomainCreate, isValidDomainName, isValidEntityName, isValidKind, parentOf } from './names';
import type { Write } from './write';

export interface RuleContext {
  /** SPEC §3: the master domain cannot be deleted */
  masterDomain: string;
  /** SPEC §5: the version the writer last saw; the write is refused if the target moved on */
  ifMatch?: string;
}

/** SPEC §3: attributes are at most 64 KiB serialized (as canonical JSON, in UTF-8 bytes). */
export const MAX_ATTRIBUTES_BYTES = 64 * 1024;

type Winner = Domain | Entity | Tombstone | null;

function refuse(code: RuleCode, message: string, winner: Winner = null): Verdict {
  return { ok: false, code, message, winner };
}

function invalid(message: string): Verdict {
  return refuse('validation_failed', message);
}

function isNonEmptyString(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0;
}

function attributesTooLarge(attributes: JsonObject): boolean {
  return new TextEncoder().encode(canonicalJson(attributes)).length > MAX_ATTRIBUTES_BYTES;
}

/** A JSON object that can be stored exactly as given (json-value.ts), or why not. */
function jsonObjectError(value: unknown, what: string, form = 'a JSON object'): string | null {
  if (!isJsonObject(value)) return `${what} must be ${form}`;
  return jsonValueProblem(value, what);
}

/**
 * The field checks every change passes before the state is looked at; a message, or null if valid.
 * The same at the MDC and every site, so they refuse the same things; a store may be asked about a
 * change only once it passed (SPEC §5: validated before any store sees it).
 */
export function fieldError(change: Write): string | null {
  // The checks walk whole JSON values; a change is checked at several steps of one write (the admin
  // API, a batch's load, `decide`), so each change object is checked once. Changes are never mutated.
  let error = checked.get(change);
  if (error === undefined) {
    error = fieldErrorOf(change);
    checked.set(change, error);
  }
  return error;
}

const checked = new WeakMap<Write, string | null>();

function fieldErrorOf(change: Write): string | null {
  // A create carries its new object's id; an update or a delete may name its target instead (write.ts).
  const named = change.id === undefined && !change.op.endsWith('.create');
  if (!named && !isNonEmptyString(change.id)) return 'id must be a non-empty string';
  switch (change.op) {
    case 'domain.create': {
      const check = checkDomainCreate(change.name, change.parent);
      if (!check.ok) return check.message;
      return jsonObjectError(change.settings, 'settings');
    }
    case 'domain.update':
      if (!isValidDomainName(change.name)) return `invalid domain name ${JSON.stringify(change.name)}`;
      return jsonObjectError(change.patch, 'settings', 'a JSON object (a merge patch)');
    case 'domain.delete':
      if (!isValidDomainName(change.name)) return `invalid domain name ${JSON.stringify(change.name)}`;
      return typeof change.recursive === 'boolean' ? null : 'recursive must be true or false';
    case 'entity.create':
    case 'entity.update':
    case 'entity.delete': {
      if (!isValidDomainName(change.domain)) return `invalid domain name ${JSON.stringify(change.domain)}`;
      if (!isValidKind(change.kind)) {
        return `invalid kind ${JSON.stringify(change.kind)}: [a-z][a-z0-9_-], at most 63 characters`;
      }
      if (!isValidEntityName(change.name)) {
        return `invalid entity name ${JSON.stringify(change.name)}: 1–255 characters, no '/', no control characters, no unpaired surrogates`;
      }
      if (change.op === 'entity.create') {
        const error = jsonObjectError(change.attributes, 'attributes');
        if (error) return error;
        if (attributesTooLarge(change.attributes)) return 'attributes exceed 64 KiB';
      }
      if (change.op === 'entity.update') {
        return jsonObjectError(change.patch, 'attributes', 'a JSON object (a merge patch)');
      }
      return null;
    }
    default:
      return `unknown operation ${JSON.stringify((change as { op: unknown }).op)}`;
  }
}

/** SPEC §5: If-Match makes a write conditional on the version the writer saw. */
function versionConflict(current: Domain | Entity, ctx: RuleContext, what: string): Verdict | null {
  if (ctx.ifMatch === undefined || ctx.ifMatch === current.version) return null;
  return refuse(
    'version_conflict',
    `${what} is at version ${current.version}, not ${ctx.ifMatch} (If-Match)`,
    current,
  );
}

function createDomain(view: DirectoryView, change: Extract<Change, { op: 'domain.create' }>): Verdict {
  // SPEC §7: of two creates of one name, the first to reach the MDC wins.
  const namesake = view.domainByName(change.name);
  if (namesake) return refuse('already_exists', `domain "${change.name}" already exists`, namesake);
  const sameId = view.domainById(change.id);
  if (sameId) return refuse('already_exists', `a domain with id ${change.id} already exists`, sameId);
  // SPEC §3: the parent follows from the name; a parent given with the change was checked to match it.
  const parent = parentOf(change.name);
  if (parent !== null && !view.domainByName(parent)) {
    return refuse('domain_not_found', `parent domain "${parent}" does not exist`);
  }
  const settings = cloneJson(change.settings) as JsonObject;
  const domain = { id: change.id, name: change.name, parent, settings };
  return { ok: true, effects: [{ type: 'domain.put', domain, created: true }] };
}

function updateDomain(
  view: DirectoryView,
  change: Extract<Change, { op: 'domain.update' }>,
  ctx: RuleContext,
): Verdict {
  const current = view.domainById(change.id);
  if (!current) return refuse('domain_not_found', `domain "${change.name}" does not exist`);
  // SPEC §7: delete beats update in any order, so an update that arrives after the delete is refused.
  if (isTombstone(current)) {
    return refuse('domain_not_found', `domain "${change.name}" was deleted`, current);
  }
  const conflict = versionConflict(current, ctx, `domain "${current.name}"`);
  if (conflict) return conflict;
  // SPEC §7: field by field onto the MDC's state, so the last to reach the MDC wins per field.
  const settings = mergeObjectPatch(current.settings, change.patch);
  const domain = { id: current.id, name: current.name, parent: current.parent, settings };
  return { ok: true, effects: [{ type: 'domain.put', domain, created: false }] };
}

/** Code-unit order, so the effects come out the same on every machine. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The effects that delete a domain and everything under it, the deepest first. */
function subtreeDeletes(view: DirectoryView, domain: Domain): Verdict {
  const effects: Effect[] = [];
  const visit = (d: Domain): void => {
    const children = view.childDomains(d.name).sort((a, b) => compare(a.name, b.name));
    for (const child of children) visit(child);
    const entities = view
      .entitiesOf(d.name)
      .sort((a, b) => compare(a.kind, b.kind) || compare(a.name, b.name));
    for (const e of entities) effects.push({ type: 'entity.delete', id: e.id, domain: e.domain });
    effects.push({ type: 'domain.delete', id: d.id, name: d.name });
  };
  visit(domain);
  return { ok: true, effects };
}

function deleteDomain(
  view: DirectoryView,
  change: Extract<Change, { op: 'domain.delete' }>,
  ctx: RuleContext,
): Verdict {
  const current = view.domainById(change.id);
  const name = current && !isTombstone(current) ? current.name : change.name;
  // SPEC §3: the master domain cannot be deleted.
  if (change.name === ctx.masterDomain || name === ctx.masterDomain) {
    return refuse('forbidden', `the master domain "${ctx.masterDomain}" cannot be deleted`);
  }
  // SPEC §7: deleting something already deleted succeeds.
  if (isTombstone(current)) return { ok: true, effects: [] };
  if (!current) return refuse('domain_not_found', `domain "${change.name}" does not exist`);
  const conflict = versionConflict(current, ctx, `domain "${current.name}"`);
  if (conflict) return conflict;
  if (change.recursive) return subtreeDeletes(view, current);
  if (view.childDomains(current.name).length > 0 || view.entitiesOf(current.name).length > 0) {
    return refuse(
      'has_children',
      `domain "${current.name}" has child domains or entities; delete it with recursive=true`,
      current,
    );
  }
  return { ok: true, effects: [{ type: 'domain.delete', id: current.id, name: current.name }] };
}

function createEntity(view: DirectoryView, change: Extract<Change, { op: 'entity.create' }>): Verdict {
  const { id, domain, kind, name } = change;
  if (!view.domainByName(domain)) return refuse('domain_not_found', `domain "${domain}" does not exist`);
  // SPEC §7: of two creates of one (domain, kind, name), the first to reach the MDC wins.
  const namesake = view.entityByKey(domain, kind, name);
  if (namesake) return refuse('already_exists', `${kind} "${name}" already exists in "${domain}"`, namesake);
  const sameId = view.entityById(id);
  if (sameId) return refuse('already_exists', `an entity with id ${id} already exists`, sameId);
  const attributes = cloneJson(change.attributes) as JsonObject;
  return {
    ok: true,
    effects: [{ type: 'entity.put', entity: { id, domain, kind, name, attributes }, created: true }],
  };
}

function describe(e: Entity | Extract<Change, { op: `entity.${string}` }>): string {
  return `${e.kind} "${e.name}" in "${e.domain}"`;
}

function updateEntity(
  view: DirectoryView,
  change: Extract<Change, { op: 'entity.update' }>,
  ctx: RuleContext,
): Verdict {
  // SPEC §7: addressed by id, so an update of an entity whose create was refused never hits a namesake.
  const current = view.entityById(change.id);
  if (!current) return refuse('entity_not_found', `${describe(change)} does not exist`);
  // SPEC §7: delete beats update in any order, so an update that arrives after the delete is refused.
  if (isTombstone(current)) return refuse('entity_not_found', `${describe(change)} was deleted`, current);
  const conflict = versionConflict(current, ctx, describe(current));
  if (conflict) return conflict;
  // SPEC §7: field by field onto the MDC's state, so the last to reach the MDC wins per field.
  const attributes = mergeObjectPatch(current.attributes, change.patch);
  if (attributesTooLarge(attributes))
    return invalid(`attributes of ${describe(current)} would exceed 64 KiB`);
  const { id, domain, kind, name } = current;
  return {
    ok: true,
    effects: [{ type: 'entity.put', entity: { id, domain, kind, name, attributes }, created: false }],
  };
}

function deleteEntity(
  view: DirectoryView,
  change: Extract<Change, { op: 'entity.delete' }>,
  ctx: RuleContext,
): Verdict {
  const current = view.entityById(change.id);
  // SPEC §7: deleting something already deleted succeeds.
  if (isTombstone(current)) return { ok: true, effects: [] };
  if (!current) return refuse('entity_not_found', `${describe(change)} does not exist`);
  const conflict = versionConflict(current, ctx, describe(current));
  if (conflict) return conflict;
  return { ok: true, effects: [{ type: 'entity.delete', id: current.id, domain: current.domain }] };
}

/** The verdict on one change against the current state. */
export function decide(view: DirectoryView, change: Change, ctx: RuleContext): Verdict {
  const error = fieldError(change);
  if (error !== null) return invalid(error);
  switch (change.op) {
    case 'domain.create':
      return createDomain(view, change);
    case 'domain.update':
      return updateDomain(view, change, ctx);
    case 'domain.delete':
      return deleteDomain(view, change, ctx);
    case 'entity.create':
      return createEntity(view, change);
    case 'entity.update':
      return updateEntity(view, change, ctx);
    case 'entity.delete':
      return deleteEntity(view, change, ctx);
  }
}
