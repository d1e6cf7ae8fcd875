import { type BatchState, decideInOrder } from './batch';
import { MemoryDirectory } from './directory-view';
import type { Domain, Entity } from './model';
import { fieldError } from './rules';
import { resolveWrite, type Write } from './write';

const T0 = '2026-01-01T00:00:00.000Z';
const AT = '2026-02-02T00:00:00.000Z';
const acme: Domain = {
  id: 'd-acme',
  name: 'acme',
  parent: null,
  settings: {},
  version: '1',
  createdAt: T0,
  updatedAt: T0,
};
const alice: Entity = {
  id: 'e-alice',
  domain: 'acme',
  kind: 'user',
  name: 'alice',
  attributes: { a: 1 },
  version: '2',
  createdAt: T0,
  updatedAt: T0,
};

function state(): BatchState {
  return {
    view: new MemoryDirectory([acme], [alice]),
    domains: new Map([[acme.id, acme]]),
    entities: new Map([[alice.id, alice]]),
  };
}

function decideAll(writes: Write[]) {
  return decideInOrder(
    state(),
    writes.map((change) => ({ change })),
    { masterDomain: 'master' },
    (_, n) => String(100 + n),
    AT,
  ).decided;
}

describe('writes that name their target (SPEC §5 admin calls, resolved when decided)', () => {
  it('resolves a name to the id that holds it, or to the 404 an admin gets', () => {
    const view = state().view;
    expect(
      resolveWrite(view, { op: 'entity.update', domain: 'acme', kind: 'user', name: 'alice', patch: {} }),
    ).toEqual({ op: 'entity.update', id: 'e-alice', domain: 'acme', kind: 'user', name: 'alice', patch: {} });
    expect(resolveWrite(view, { op: 'domain.delete', name: 'acme', recursive: false })).toMatchObject({
      id: 'd-acme',
    });
    expect(resolveWrite(view, { op: 'domain.update', name: 'nope', patch: {} })).toMatchObject({
      ok: false,
      code: 'domain_not_found',
    });
    expect(
      resolveWrite(view, { op: 'entity.delete', domain: 'nope', kind: 'user', name: 'alice' }),
    ).toMatchObject({
      code: 'domain_not_found',
    });
    expect(
      resolveWrite(view, { op: 'entity.delete', domain: 'acme', kind: 'user', name: 'bob' }),
    ).toMatchObject({
      code: 'entity_not_found',
    });
    const byId: Write = { op: 'entity.delete', id: 'e-x', domain: 'acme', kind: 'user', name: 'bob' };
    expect(resolveWrite(view, byId)).toBe(byId);
  });

  it('resolves each write after the ones before it: create then patch then delete of one name', () => {
    const decided = decideAll([
      { op: 'entity.create', id: 'e-bob', domain: 'acme', kind: 'user', name: 'bob', attributes: { b: 1 } },
      { op: 'entity.update', domain: 'acme', kind: 'user', name: 'bob', patch: { c: 2 } },
      { op: 'entity.delete', domain: 'acme', kind: 'user', name: 'bob' },
      { op: 'entity.update', domain: 'acme', kind: 'user', name: 'bob', patch: { d: 3 } },
    ]);
    expect(decided.map((d) => (d.verdict.ok ? d.version : d.verdict.code))).toEqual([
      '100',
      '101',
      '102',
      'entity_not_found',
    ]);
    expect(decided[1].change).toMatchObject({ id: 'e-bob' });
    expect(decided[2].change).toMatchObject({ op: 'entity.delete', id: 'e-bob' });
    expect(decided[3].change).toBeUndefined();
  });

  it('gives each accepted write its target as it left it (the answer body), not the group’s end state', () => {
    const decided = decideAll([
      { op: 'entity.update', domain: 'acme', kind: 'user', name: 'alice', patch: { b: 2 } },
      { op: 'entity.update', domain: 'acme', kind: 'user', name: 'alice', patch: { c: 3 } },
      { op: 'entity.delete', domain: 'acme', kind: 'user', name: 'alice' },
    ]);
    expect(decided[0].after).toMatchObject({ attributes: { a: 1, b: 2 }, version: '100', updatedAt: AT });
    expect(decided[1].after).toMatchObject({ attributes: { a: 1, b: 2, c: 3 }, version: '101' });
    expect(decided[2].after).toBeUndefined();
  });

  it('checks If-Match against the target the name resolved to', () => {
    const { decided } = decideInOrder(
      state(),
      [
        { change: { op: 'domain.update', name: 'acme', patch: { x: 1 } } as Write, ifMatch: '1' },
        { change: { op: 'domain.update', name: 'acme', patch: { x: 2 } } as Write, ifMatch: '1' },
      ],
      { masterDomain: 'master' },
      (_, n) => String(100 + n),
      AT,
    );
    expect(decided.map((d) => (d.verdict.ok ? 'ok' : d.verdict.code))).toEqual(['ok', 'version_conflict']);
  });

  it('field-checks a named write without an id, and still wants an id on a create', () => {
    expect(fieldError({ op: 'entity.delete', domain: 'acme', kind: 'user', name: 'bob' })).toBeNull();
    expect(fieldError({ op: 'entity.delete', domain: 'acme', kind: 'user', name: 'b\u0000b' })).toMatch(
      /entity name/,
    );
    expect(
      fieldError({
        op: 'entity.create',
        domain: 'acme',
        kind: 'user',
        name: 'bob',
        attributes: {},
      } as unknown as Write),
    ).toBe('id must be a non-empty string');
  });
});
