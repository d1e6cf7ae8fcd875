import { type DirectoryView } from './directory-view';
import type { Change, Verdict } from './model';

type WithoutId<C> = C extends unknown ? Omit<C, 'id'> : never;
type ById = Extract<Change, { op: 'domain.update' | 'domain.delete' | 'entity.update' | 'entity.delete' }>;

/**
 * A write as an admin asks for it (SPEC §5): a create carries the id it gives the new object; an
 * update or a delete may name its target instead (`domain`, or `domain/kind/name`), to be resolved
 * to the id of whatever holds that name when the write is decided — after the writes before it in
 * its group or batch, so "create X, then patch X" in one batch patches the X just created.
 */
export type Write = Exclude<Change, ById> | ById | (WithoutId<ById> & { id?: undefined });

type Refusal = Extract<Verdict, { ok: false }>;

/**
 * A write's target resolved against `view`: the change addressed by id (SPEC §7), or the refusal an
 * admin gets for a name nothing holds (404 `domain_not_found`, `entity_not_found`).
 */
export function resolveWrite(view: DirectoryView, write: Write): Change | Refusal {
  if (write.id !== undefined) return write;
  if (write.op === 'domain.update' || write.op === 'domain.delete') {
    const domain = view.domainByName(write.name);
    return domain ? { ...write, id: domain.id } : notFound('domain_not_found', `no domain ${write.name}`);
  }
  if (!view.domainByName(write.domain)) return notFound('domain_not_found', `no domain ${write.domain}`);
  const entity = view.entityByKey(write.domain, write.kind, write.name);
  return entity
    ? { ...write, id: entity.id }
    : notFound('entity_not_found', `no ${write.kind} ${write.name} in ${write.domain}`);
}

function notFound(code: 'domain_not_found' | 'entity_not_found', message: string): Refusal {
  return { ok: false, code, message, winner: null };
}
