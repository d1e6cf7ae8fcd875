import { randomUUID } from 'node:crypto';
import { isValidDomainName, JsonObject, parentOf, Write } from '@dd/directory';
import { ApiError } from './errors';

// The writes SPEC §5's calls ask for, the same for a lone request and a `POST /batch` op.

/** SPEC §5 `POST /domains`: the parent follows from the name unless given. */
export function domainCreate(input: { name: string; parent?: string | null; settings?: JsonObject }): Write {
  const derived = isValidDomainName(input.name) ? parentOf(input.name) : null;
  return {
    op: 'domain.create',
    id: randomUUID(),
    name: input.name,
    parent: input.parent === undefined ? derived : input.parent,
    settings: input.settings ?? {},
  };
}

/** SPEC §5 `POST /domains/{name}/entities`. */
export function entityCreate(
  domain: string,
  input: { kind: string; name: string; attributes?: JsonObject },
): Write {
  return {
    op: 'entity.create',
    id: randomUUID(),
    domain,
    kind: input.kind,
    name: input.name,
    attributes: input.attributes ?? {},
  };
}

export function recursiveFlag(raw: string | undefined): boolean {
  if (raw === undefined || raw === 'false') return false;
  if (raw === 'true') return true;
  throw new ApiError('validation_failed', 'recursive must be true or false');
}
