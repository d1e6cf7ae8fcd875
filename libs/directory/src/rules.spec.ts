/**
 * SPEC §7: the conflict rules, decided at the MDC in the order changes reach it. Each scenario is
 * played in both arrival orders: site A's change first then site B's, and the reverse.
 */
import { type BatchState, decideInOrder } from './batch';
import { MemoryDirectory } from './directory-view';
import type { Change, Domain, Entity, JsonObject, Tombstone, Verdict } from './model';
import { parentOf } from './names';
import { decide, type RuleContext } from './rules';

const T0 = '2024-01-01T00:00:00.000Z';
const AT = '2024-06-01T12:00:00.000Z';
const ctx: RuleContext = { masterDomain: 'master' };

function domain(id: string, name: string, settings: JsonObject = {}): Domain {
  return { id, name, parent: parentOf(name), settings, version: '1', createdAt: T0, updatedAt: T0 };
}

function entity(
  id: string,
  domainName: string,
  kind: string,
  name: string,
  attributes: JsonObject = {},
): Entity {
  return { id, domain: domainName, kind, name, attributes, version: '1', createdAt: T0, updatedAt: T0 };
}

/** master; acme ⊃ sales.acme ⊃ eu.sales.acme, each with one user; globex, empty; one deleted domain and entity. */
function objects(): { domains: Domain[]; entities: Entity[]; tombstones: Tombstone[] } {
  return {
    domains: [
      domain('d-master', 'master'),
      domain('d-acme', 'acme', { lang: 'en', tz: 'UTC', sip: { proxy: 'sip1', port: 5060 } }),
      domain('d-sales', 'sales.acme'),
      domain('d-eu', 'eu.sales.acme'),
      domain('d-globex', 'globex'),
    ],
    entities: [
      entity('e-alice', 'acme', 'user', 'alice', { mail: 'alice@acme', phone: '100' }),
      entity('e-bob', 'sales.acme', 'user', 'bob'),
      entity('e-carol', 'eu.sales.acme', 'user', 'carol'),
      entity('e-admins', 'eu.sales.acme', 'group', 'admins'),
    ],
    tombstones: [
      { id: 'd-old', type: 'domain', domain: 'old', version: '5', deletedAt: T0 },
      { id: 'e-gone', type: 'entity', domain: 'acme', version: '6', deletedAt: T0 },
    ],
  };
}

function directory(): MemoryDirectory {
  const { domains, entities, tombstones } = objects();
  return new MemoryDirectory(domains, entities, tombstones);
}

/** The same objects as a batch sees them: the view and the full objects behind it. */
function state(): BatchState {
  const { domains, entities } = objects();
  return {
    view: directory(),
    domains: new Map(domains.map((d) => [d.id, d])),
    entities: new Map(entities.map((e) => [e.id, e])),
  };
}

type ChangeOf<Op extends Change['op']> = Extract<Change, { op: Op }>;

const createDomain = (id: string, name: string, settings: JsonObject = {}): ChangeOf<'domain.create'> => ({
  op: 'domain.create',
  id,
  name,
  parent: parentOf(name),
  settings,
});
const updateDomain = (id: string, name: string, patch: JsonObject): ChangeOf<'domain.update'> => ({
  op: 'domain.update',
  id,
  name,
  patch,
});
const deleteDomain = (id: string, name: string, recursive = false): ChangeOf<'domain.delete'> => ({
  op: 'domain.delete',
  id,
  name,
  recursive,
});
const createEntity = (
  id: string,
  name: string,
  attributes: JsonObject = {},
  kind = 'user',
  domain = 'acme',
): ChangeOf<'entity.create'> => ({
  op: 'entity.create',
  id,
  domain,
  kind,
  name,
  attributes,
});
const updateEntity = (
  id: string,
  name: string,
  patch: JsonObject,
  kind = 'user',
  domain = 'acme',
): ChangeOf<'entity.update'> => ({
  op: 'entity.update',
  id,
  domain,
  kind,
  name,
  patch,
});
const deleteEntity = (
  id: string,
  name: string,
  kind = 'user',
  domain = 'acme',
): ChangeOf<'entity.delete'> => ({
  op: 'entity.delete',
  id,
  domain,
  kind,
  name,
});

/** Versions handed out in the batch: the n-th accepted change gets 100 + n. */
const versionFor = (n: number): string => String(100 + n);

/** Decides the changes in arrival order, as the MDC does for a pushed batch. */
function arrive(changes: Change[], base: BatchState = state(), context: RuleContext = ctx): Verdict[] {
  const items = changes.map((change) => ({ change, ifMatch: context.ifMatch }));
  const verdicts = decideInOrder(base, items, context, (_, n) => versionFor(n), AT).decided.map(
    (d) => d.verdict,
  );
  // SPEC §7: every refusal tells a person why.
  for (const v of verdicts) if (!v.ok) expect(v.message).toMatch(/\w{3}/);
  return verdicts;
}

function accepted(v: Verdict): Extract<Verdict, { ok: true }> {
  if (!v.ok) throw new Error(`expected the change to be accepted, got ${v.code}: ${v.message}`);
  return v;
}

function refused(v: Verdict): Extract<Verdict, { ok: false }> {
  if (v.ok) throw new Error(`expected the change to be refused, got ${JSON.stringify(v.effects)}`);
  return v;
}

/** The settings a domain.put verdict writes. */
function settingsOf(v: Verdict): JsonObject {
  const [effect] = accepted(v).effects;
  if (effect.type !== 'domain.put') throw new Error(`expected a domain.put, got ${effect.type}`);
  return effect.domain.settings;
}

/** The attributes an entity.put verdict writes. */
function attributesOf(v: Verdict): JsonObject {
  const [effect] = accepted(v).effects;
  if (effect.type !== 'entity.put') throw new Error(`expected an entity.put, got ${effect.type}`);
  return effect.entity.attributes;
}

/** Plays `[a, b]` in both arrival orders. */
const bothOrders = <T>(a: T, b: T): [string, T, T][] => [
  ['site A first', a, b],
  ['site B first', b, a],
];

describe('creates: the first to reach the MDC wins (SPEC §7)', () => {
  const fromA = createDomain('d-a', 'initech', { from: 'a' });
  const fromB = createDomain('d-b', 'initech', { from: 'b' });

  it.each(bothOrders(fromA, fromB))(
    'two sites create the same domain name (%s): the first is created, the second gets already_exists with the winner',
    (_order, first, second) => {
      const [v1, v2] = arrive([first, second]);
      expect(accepted(v1).effects).toEqual([
        {
          type: 'domain.put',
          created: true,
          domain: {
            id: first.id,
            name: 'initech',
            parent: null,
            settings: first.settings,
          },
        },
      ]);
      const refusal = refused(v2);
      expect(refusal.code).toBe('already_exists');
      expect(refusal.message).toContain('initech');
      expect(refusal.winner).toMatchObject({ id: first.id, name: 'initech', version: '100', createdAt: AT });
    },
  );

  const userFromA = createEntity('e-a', 'dave', { from: 'a' });
  const userFromB = createEntity('e-b', 'dave', { from: 'b' });

  it.each(bothOrders(userFromA, userFromB))(
    'two sites create the same (domain, kind, name) (%s): the first is created, the second gets already_exists with the winner',
    (_order, first, second) => {
      const [v1, v2] = arrive([first, second]);
      expect(accepted(v1).effects).toEqual([
        {
          type: 'entity.put',
          created: true,
          entity: {
            id: first.id,
            domain: 'acme',
            kind: 'user',
            name: 'dave',
            attributes: first.attributes,
          },
        },
      ]);
      const refusal = refused(v2);
      expect(refusal.code).toBe('already_exists');
      expect(refusal.winner).toMatchObject({
        id: first.id,
        attributes: first.attributes,
      });
    },
  );

  it('refuses a domain create whose name already exists at the MDC, naming the existing domain', () => {
    const v = refused(arrive([createDomain('d-new', 'acme')])[0]);
    expect(v.code).toBe('already_exists');
    expect(v.winner).toMatchObject({ id: 'd-acme', name: 'acme' });
  });

  it('refuses an entity create whose key already exists at the MDC, naming the existing entity', () => {
    const v = refused(arrive([createEntity('e-new', 'alice')])[0]);
    expect(v.code).toBe('already_exists');
    expect(v.winner).toMatchObject({ id: 'e-alice' });
  });

  it('refuses a create that reuses the id of a live domain or entity', () => {
    const [d, e] = arrive([createDomain('d-globex', 'hooli'), createEntity('e-alice', 'zed')]);
    expect(refused(d)).toMatchObject({ code: 'already_exists', winner: { id: 'd-globex' } });
    expect(refused(e)).toMatchObject({ code: 'already_exists', winner: { id: 'e-alice' } });
  });

  it('refuses a create that reuses the id of a deleted domain or entity', () => {
    const [d, e] = arrive([createDomain('d-old', 'hooli'), createEntity('e-gone', 'zed')]);
    expect(refused(d)).toMatchObject({ code: 'already_exists', winner: { id: 'd-old', deletedAt: T0 } });
    expect(refused(e)).toMatchObject({ code: 'already_exists', winner: { id: 'e-gone', deletedAt: T0 } });
  });

  it('accepts the same entity name under another kind or in another domain', () => {
    const verdicts = arrive([
      createEntity('e-1', 'alice', {}, 'group'),
      createEntity('e-2', 'alice', {}, 'user', 'globex'),
    ]);
    expect(verdicts.map((v) => v.ok)).toEqual([true, true]);
  });

  it('accepts a name again once its holder was deleted', () => {
    const verdicts = arrive([
      deleteDomain('d-globex', 'globex'),
      createDomain('d-globex2', 'globex'),
      deleteEntity('e-alice', 'alice'),
      createEntity('e-alice2', 'alice'),
    ]);
    expect(verdicts.map((v) => v.ok)).toEqual([true, true, true, true]);
  });

  it('stores {} when a domain is created without settings and copies what it is given', () => {
    const settings = { a: { b: 1 } };
    const [withNone, withSome] = arrive([
      createDomain('d-1', 'hooli'),
      createDomain('d-2', 'initech', settings),
    ]);
    expect(settingsOf(withNone)).toEqual({});
    expect(settingsOf(withSome)).toEqual(settings);
    expect(settingsOf(withSome)).not.toBe(settings);
  });

  describe('a domain needs a live parent', () => {
    it('creates a child under a live parent', () => {
      const v = accepted(arrive([createDomain('d-x', 'x.globex')])[0]);
      expect(v.effects).toEqual([
        {
          type: 'domain.put',
          created: true,
          domain: { id: 'd-x', name: 'x.globex', parent: 'globex', settings: {} },
        },
      ]);
    });

    it('refuses a child whose parent does not exist', () => {
      expect(refused(arrive([createDomain('d-x', 'x.nowhere')])[0])).toMatchObject({
        code: 'domain_not_found',
        winner: null,
      });
    });

    it('creates a child whose parent was created earlier in the batch', () => {
      const verdicts = arrive([
        createDomain('d-h', 'hooli'),
        createDomain('d-x', 'x.hooli'),
        createDomain('d-y', 'y.x.hooli'),
      ]);
      expect(verdicts.map((v) => v.ok)).toEqual([true, true, true]);
    });

    it('refuses a child whose parent was deleted earlier in the batch', () => {
      const [del, child] = arrive([deleteDomain('d-globex', 'globex'), createDomain('d-x', 'x.globex')]);
      expect(accepted(del).effects).toHaveLength(1);
      expect(refused(child).code).toBe('domain_not_found');
    });
  });

  describe('an entity needs a live domain', () => {
    it('refuses an entity in a domain that does not exist', () => {
      expect(refused(arrive([createEntity('e-x', 'x', {}, 'user', 'nowhere')])[0])).toMatchObject({
        code: 'domain_not_found',
        winner: null,
      });
    });

    it('refuses an entity in a domain deleted earlier in the batch', () => {
      const [, create] = arrive([
        deleteDomain('d-globex', 'globex'),
        createEntity('e-x', 'x', {}, 'user', 'globex'),
      ]);
      expect(refused(create).code).toBe('domain_not_found');
    });

    it('creates an entity in a domain created earlier in the batch', () => {
      const verdicts = arrive([createDomain('d-h', 'hooli'), createEntity('e-x', 'x', {}, 'user', 'hooli')]);
      expect(verdicts.map((v) => v.ok)).toEqual([true, true]);
    });
  });
});

describe('updates: field by field, the last to reach the MDC wins (SPEC §7)', () => {
  const langFromA = updateDomain('d-acme', 'acme', { lang: 'fr' });
  const tzFromB = updateDomain('d-acme', 'acme', { tz: 'CET' });

  it.each(bothOrders(langFromA, tzFromB))(
    'keeps both sites’ edits of different domain settings (%s)',
    (_order, first, second) => {
      const [v1, v2] = arrive([first, second]);
      expect(accepted(v1).effects[0]).toMatchObject({ type: 'domain.put', created: false });
      expect(settingsOf(v2)).toEqual({ lang: 'fr', tz: 'CET', sip: { proxy: 'sip1', port: 5060 } });
    },
  );

  const frFromA = updateDomain('d-acme', 'acme', { lang: 'fr' });
  const deFromB = updateDomain('d-acme', 'acme', { lang: 'de' });

  it.each(bothOrders(frFromA, deFromB))(
    'keeps the edit that reaches the MDC last when two sites edit the same setting (%s)',
    (_order, first, second) => {
      const [, v2] = arrive([first, second]);
      expect(settingsOf(v2).lang).toBe(second.patch.lang);
    },
  );

  const mailFromA = updateEntity('e-alice', 'alice', { mail: 'a@new' });
  const phoneFromB = updateEntity('e-alice', 'alice', { phone: '200' });

  it.each(bothOrders(mailFromA, phoneFromB))(
    'keeps both sites’ edits of different entity attributes (%s)',
    (_order, first, second) => {
      const [v1, v2] = arrive([first, second]);
      expect(accepted(v1).effects[0]).toMatchObject({ type: 'entity.put', created: false });
      expect(attributesOf(v2)).toEqual({ mail: 'a@new', phone: '200' });
    },
  );

  const phone300FromA = updateEntity('e-alice', 'alice', { phone: '300' });
  const phone400FromB = updateEntity('e-alice', 'alice', { phone: '400' });

  it.each(bothOrders(phone300FromA, phone400FromB))(
    'keeps the edit that reaches the MDC last when two sites edit the same attribute (%s)',
    (_order, first, second) => {
      const [, v2] = arrive([first, second]);
      expect(attributesOf(v2)).toEqual({
        mail: 'alice@acme',
        phone: second.patch.phone,
      });
    },
  );

  it('merges nested settings field by field and removes a field patched with null', () => {
    const v = arrive([updateDomain('d-acme', 'acme', { sip: { port: 5061 }, tz: null })])[0];
    expect(settingsOf(v)).toEqual({ lang: 'en', sip: { proxy: 'sip1', port: 5061 } });
  });

  it('keeps the identity of the target from the MDC state: name, parent, domain and kind', () => {
    const [d, e] = arrive([
      updateDomain('d-sales', 'sales.acme', { a: 1 }),
      updateEntity('e-bob', 'bob', { a: 1 }, 'user', 'sales.acme'),
    ]);
    expect(accepted(d).effects[0]).toEqual({
      type: 'domain.put',
      created: false,
      domain: { id: 'd-sales', name: 'sales.acme', parent: 'acme', settings: { a: 1 } },
    });
    expect(accepted(e).effects[0]).toEqual({
      type: 'entity.put',
      created: false,
      entity: { id: 'e-bob', domain: 'sales.acme', kind: 'user', name: 'bob', attributes: { a: 1 } },
    });
  });

  it('refuses an update of a domain or an entity that never existed', () => {
    const [d, e] = arrive([
      updateDomain('d-none', 'none', { a: 1 }),
      updateEntity('e-none', 'none', { a: 1 }),
    ]);
    expect(refused(d)).toMatchObject({ code: 'domain_not_found', winner: null });
    expect(refused(e)).toMatchObject({ code: 'entity_not_found', winner: null });
  });

  it('refuses an update that would take the attributes past 64 KiB', () => {
    const big = 'x'.repeat(40 * 1024);
    const [first, second] = arrive([
      updateEntity('e-alice', 'alice', { a: big }),
      updateEntity('e-alice', 'alice', { b: big }),
    ]);
    expect(first.ok).toBe(true);
    expect(refused(second)).toMatchObject({
      code: 'validation_failed',
      message: expect.stringContaining('64 KiB'),
    });
  });
});

describe('delete beats update in any order (SPEC §7)', () => {
  describe('domains', () => {
    it('refuses an update that reaches the MDC after the delete', () => {
      const [del, upd] = arrive([
        deleteDomain('d-globex', 'globex'),
        updateDomain('d-globex', 'globex', { a: 1 }),
      ]);
      expect(accepted(del).effects).toEqual([{ type: 'domain.delete', id: 'd-globex', name: 'globex' }]);
      expect(refused(upd)).toMatchObject({
        code: 'domain_not_found',
        winner: { id: 'd-globex', type: 'domain', version: '100', deletedAt: AT },
      });
    });

    it('applies a delete that comes after an update', () => {
      const [upd, del] = arrive([
        updateDomain('d-globex', 'globex', { a: 1 }),
        deleteDomain('d-globex', 'globex'),
      ]);
      expect(upd.ok).toBe(true);
      expect(accepted(del).effects).toEqual([{ type: 'domain.delete', id: 'd-globex', name: 'globex' }]);
    });

    it('refuses an update of a domain deleted in an earlier batch, naming its tombstone', () => {
      expect(refused(arrive([updateDomain('d-old', 'old', { a: 1 })])[0])).toMatchObject({
        code: 'domain_not_found',
        winner: { id: 'd-old', deletedAt: T0 },
      });
    });
  });

  describe('entities', () => {
    it('refuses an update that reaches the MDC after the delete', () => {
      const [del, upd] = arrive([
        deleteEntity('e-alice', 'alice'),
        updateEntity('e-alice', 'alice', { a: 1 }),
      ]);
      expect(accepted(del).effects).toEqual([{ type: 'entity.delete', id: 'e-alice', domain: 'acme' }]);
      expect(refused(upd)).toMatchObject({
        code: 'entity_not_found',
        winner: { id: 'e-alice', type: 'entity', version: '100', deletedAt: AT },
      });
    });

    it('applies a delete that comes after an update', () => {
      const [upd, del] = arrive([
        updateEntity('e-alice', 'alice', { a: 1 }),
        deleteEntity('e-alice', 'alice'),
      ]);
      expect(upd.ok).toBe(true);
      expect(accepted(del).effects).toEqual([{ type: 'entity.delete', id: 'e-alice', domain: 'acme' }]);
    });

    it('refuses an update of an entity deleted in an earlier batch, naming its tombstone', () => {
      expect(refused(arrive([updateEntity('e-gone', 'gone', { a: 1 })])[0])).toMatchObject({
        code: 'entity_not_found',
        winner: { id: 'e-gone', deletedAt: T0 },
      });
    });

    it('refuses an update of an entity whose domain was deleted recursively before it arrived', () => {
      const [, upd] = arrive([
        deleteDomain('d-acme', 'acme', true),
        updateEntity('e-alice', 'alice', { a: 1 }),
      ]);
      expect(refused(upd)).toMatchObject({
        code: 'entity_not_found',
        winner: { id: 'e-alice', deletedAt: AT },
      });
    });
  });

  describe('deleting something already deleted succeeds', () => {
    it.each(bothOrders(deleteDomain('d-globex', 'globex'), deleteDomain('d-globex', 'globex', true)))(
      'two sites delete the same domain (%s): both succeed, the second changes nothing',
      (_order, first, second) => {
        const [v1, v2] = arrive([first, second]);
        expect(accepted(v1).effects).toHaveLength(1);
        expect(accepted(v2).effects).toEqual([]);
      },
    );

    it('two sites delete the same entity: both succeed, the second changes nothing', () => {
      const [v1, v2] = arrive([deleteEntity('e-alice', 'alice'), deleteEntity('e-alice', 'alice')]);
      expect(accepted(v1).effects).toHaveLength(1);
      expect(accepted(v2).effects).toEqual([]);
    });

    it('a delete of a domain already removed by another site’s recursive delete succeeds and changes nothing', () => {
      const [, v2] = arrive([
        deleteDomain('d-acme', 'acme', true),
        deleteDomain('d-eu', 'eu.sales.acme', true),
      ]);
      expect(accepted(v2).effects).toEqual([]);
    });

    it('succeeds on a domain and an entity deleted in an earlier batch', () => {
      const verdicts = arrive([deleteDomain('d-old', 'old'), deleteEntity('e-gone', 'gone')]);
      expect(verdicts).toEqual([
        { ok: true, effects: [] },
        { ok: true, effects: [] },
      ]);
    });

    it('refuses to delete what never existed', () => {
      const [d, e] = arrive([deleteDomain('d-none', 'none'), deleteEntity('e-none', 'none')]);
      expect(refused(d)).toMatchObject({ code: 'domain_not_found', winner: null });
      expect(refused(e)).toMatchObject({ code: 'entity_not_found', winner: null });
    });
  });
});

describe('changes address their target by id (SPEC §7)', () => {
  const createFromA = createEntity('e-a', 'dave', { from: 'a' });
  const createFromB = createEntity('e-b', 'dave', { from: 'b' });
  const updateFromB = updateEntity('e-b', 'dave', { note: 'from b' });
  const deleteFromB = deleteEntity('e-b', 'dave');

  it('refuses an update queued for an entity whose create was refused, and never applies it to the namesake', () => {
    const verdicts = arrive([createFromA, createFromB, updateFromB]);
    expect(verdicts[0].ok).toBe(true);
    expect(refused(verdicts[1]).code).toBe('already_exists');
    expect(refused(verdicts[2])).toMatchObject({ code: 'entity_not_found', winner: null });
  });

  it('refuses a delete queued for an entity whose create was refused, and leaves the namesake alive', () => {
    const verdicts = arrive([
      createFromA,
      createFromB,
      deleteFromB,
      updateEntity('e-a', 'dave', { still: 'here' }),
    ]);
    expect(refused(verdicts[2]).code).toBe('entity_not_found');
    expect(attributesOf(verdicts[3])).toEqual({ from: 'a', still: 'here' });
  });

  it('refuses an update queued for a domain whose create was refused', () => {
    const verdicts = arrive([
      createDomain('d-a', 'initech'),
      createDomain('d-b', 'initech'),
      updateDomain('d-b', 'initech', { a: 1 }),
    ]);
    expect(verdicts.map((v) => (v.ok ? 'ok' : v.code))).toEqual(['ok', 'already_exists', 'domain_not_found']);
  });

  it('refuses an update of a deleted entity even when a namesake was created since', () => {
    const [, , upd] = arrive([
      deleteEntity('e-alice', 'alice'),
      createEntity('e-alice2', 'alice'),
      updateEntity('e-alice', 'alice', { a: 1 }),
    ]);
    expect(refused(upd)).toMatchObject({
      code: 'entity_not_found',
      winner: { id: 'e-alice', deletedAt: AT },
    });
  });
});

describe('If-Match (SPEC §5)', () => {
  const at = (ifMatch: string): RuleContext => ({ ...ctx, ifMatch });

  it.each([
    ['a domain update', updateDomain('d-globex', 'globex', { a: 1 })],
    ['a domain delete', deleteDomain('d-globex', 'globex')],
    ['an entity update', updateEntity('e-alice', 'alice', { a: 1 })],
    ['an entity delete', deleteEntity('e-alice', 'alice')],
  ])('applies %s whose If-Match is the current version', (_what, change) => {
    expect(decide(directory(), change, at('1')).ok).toBe(true);
  });

  it.each([
    ['a domain update', updateDomain('d-globex', 'globex', { a: 1 }), 'd-globex'],
    ['a domain delete', deleteDomain('d-globex', 'globex'), 'd-globex'],
    ['an entity update', updateEntity('e-alice', 'alice', { a: 1 }), 'e-alice'],
    ['an entity delete', deleteEntity('e-alice', 'alice'), 'e-alice'],
  ])('refuses %s whose If-Match is stale, naming the current state', (_what, change, id) => {
    const v = refused(decide(directory(), change, at('0')));
    expect(v.code).toBe('version_conflict');
    expect(v.winner).toMatchObject({ id, version: '1' });
    expect(v.message).toContain('not 0');
  });

  it('compares with the version an earlier change of the batch gave', () => {
    const [first, second] = arrive(
      [updateEntity('e-alice', 'alice', { a: 1 }), updateEntity('e-alice', 'alice', { b: 2 })],
      state(),
      at('1'),
    );
    expect(first.ok).toBe(true);
    expect(refused(second)).toMatchObject({
      code: 'version_conflict',
      winner: { id: 'e-alice', version: '100' },
    });
  });

  it('still lets a delete of something already deleted succeed', () => {
    expect(decide(directory(), deleteEntity('e-gone', 'gone'), at('0'))).toEqual({ ok: true, effects: [] });
  });

  it('still refuses an update of a deleted object as not found', () => {
    expect(refused(decide(directory(), updateDomain('d-old', 'old', {}), at('5'))).code).toBe(
      'domain_not_found',
    );
  });
});

describe('deleting a domain (SPEC §5, §7)', () => {
  it('deletes a domain with no children and no entities', () => {
    expect(accepted(arrive([deleteDomain('d-globex', 'globex')])[0]).effects).toEqual([
      { type: 'domain.delete', id: 'd-globex', name: 'globex' },
    ]);
  });

  it('refuses without recursive a domain that has child domains, naming the domain', () => {
    const v = refused(arrive([deleteDomain('d-sales', 'sales.acme')])[0]);
    expect(v).toMatchObject({ code: 'has_children', winner: { id: 'd-sales' } });
    expect(v.message).toContain('recursive');
  });

  it('refuses without recursive a domain that only has entities', () => {
    expect(refused(arrive([deleteDomain('d-eu', 'eu.sales.acme')])[0]).code).toBe('has_children');
  });

  it('refuses without recursive a domain whose child was created earlier in the batch', () => {
    const [, del] = arrive([createDomain('d-x', 'x.globex'), deleteDomain('d-globex', 'globex')]);
    expect(refused(del).code).toBe('has_children');
  });

  it('deletes without recursive a domain emptied earlier in the batch', () => {
    const verdicts = arrive([
      deleteEntity('e-carol', 'carol', 'user', 'eu.sales.acme'),
      deleteEntity('e-admins', 'admins', 'group', 'eu.sales.acme'),
      deleteDomain('d-eu', 'eu.sales.acme'),
    ]);
    expect(verdicts.map((v) => v.ok)).toEqual([true, true, true]);
  });

  it('deletes recursively every entity and descendant, the deepest first, then the domain itself', () => {
    expect(accepted(arrive([deleteDomain('d-acme', 'acme', true)])[0]).effects).toEqual([
      { type: 'entity.delete', id: 'e-admins', domain: 'eu.sales.acme' },
      { type: 'entity.delete', id: 'e-carol', domain: 'eu.sales.acme' },
      { type: 'domain.delete', id: 'd-eu', name: 'eu.sales.acme' },
      { type: 'entity.delete', id: 'e-bob', domain: 'sales.acme' },
      { type: 'domain.delete', id: 'd-sales', name: 'sales.acme' },
      { type: 'entity.delete', id: 'e-alice', domain: 'acme' },
      { type: 'domain.delete', id: 'd-acme', name: 'acme' },
    ]);
  });

  it('deletes recursively what was created earlier in the batch and skips what was deleted', () => {
    const [, , , del] = arrive([
      createDomain('d-x', 'x.globex'),
      createEntity('e-x', 'xavier', {}, 'user', 'x.globex'),
      deleteEntity('e-alice', 'alice'),
      deleteDomain('d-globex', 'globex', true),
    ]);
    expect(accepted(del).effects).toEqual([
      { type: 'entity.delete', id: 'e-x', domain: 'x.globex' },
      { type: 'domain.delete', id: 'd-x', name: 'x.globex' },
      { type: 'domain.delete', id: 'd-globex', name: 'globex' },
    ]);
  });

  it('refuses changes in a subtree after it was deleted recursively', () => {
    const verdicts = arrive([
      deleteDomain('d-acme', 'acme', true),
      createEntity('e-x', 'x', {}, 'user', 'sales.acme'),
      createDomain('d-x', 'x.eu.sales.acme'),
      updateDomain('d-eu', 'eu.sales.acme', { a: 1 }),
      updateEntity('e-bob', 'bob', { a: 1 }, 'user', 'sales.acme'),
    ]);
    expect(verdicts.map((v) => (v.ok ? 'ok' : v.code))).toEqual([
      'ok',
      'domain_not_found',
      'domain_not_found',
      'domain_not_found',
      'entity_not_found',
    ]);
  });

  describe('the master domain cannot be deleted (SPEC §3)', () => {
    it.each([
      ['a plain delete', deleteDomain('d-master', 'master')],
      ['a recursive delete', deleteDomain('d-master', 'master', true)],
      ['a delete naming it by id only', deleteDomain('d-master', 'mastr')],
      ['a delete naming it by name only', deleteDomain('d-other', 'master')],
    ])('refuses %s with forbidden', (_what, change) => {
      expect(refused(arrive([change])[0])).toMatchObject({
        code: 'forbidden',
        message: expect.stringContaining('master'),
      });
    });

    it('follows the configured master domain', () => {
      const context = { masterDomain: 'globex' };
      const [master, other] = arrive(
        [deleteDomain('d-globex', 'globex'), deleteDomain('d-master', 'master')],
        state(),
        context,
      );
      expect(refused(master).code).toBe('forbidden');
      expect(other.ok).toBe(true);
    });

    it('lets a child of the master domain be deleted', () => {
      const verdicts = arrive([createDomain('d-ops', 'ops.master'), deleteDomain('d-ops', 'ops.master')]);
      expect(verdicts.map((v) => v.ok)).toEqual([true, true]);
    });
  });
});

describe('validation comes first (SPEC §3)', () => {
  const oversized = { a: 'x'.repeat(64 * 1024) };
  const exactly64KiB = { a: 'x'.repeat(64 * 1024 - '{"a":""}'.length) };

  it.each<[string, Change]>([
    ['an invalid domain name', createDomain('d-x', 'Bad_Name')],
    ['a name too long', createDomain('d-x', ('a'.repeat(63) + '.').repeat(4) + 'com')],
    [
      'a parent that is not the name’s parent',
      { op: 'domain.create', id: 'd-x', name: 'x.sales.acme', parent: 'acme', settings: {} },
    ],
    [
      'a null parent for a child name',
      { op: 'domain.create', id: 'd-x', name: 'x.globex', parent: null, settings: {} },
    ],
    [
      'a parent for a first-level name',
      { op: 'domain.create', id: 'd-x', name: 'hooli', parent: 'globex', settings: {} },
    ],
    [
      'settings that are an array',
      { ...createDomain('d-x', 'hooli'), settings: [] as unknown as JsonObject },
    ],
    ['settings that are null', { ...createDomain('d-x', 'hooli'), settings: null as unknown as JsonObject }],
    ['an empty id', createDomain('', 'hooli')],
    ['a settings patch that is not an object', updateDomain('d-acme', 'acme', 'x' as unknown as JsonObject)],
    ['an update naming an invalid domain', updateDomain('d-acme', 'ACME', {})],
    ['a delete naming an invalid domain', deleteDomain('d-acme', 'ac..me')],
    [
      'a recursive flag that is not a boolean',
      { op: 'domain.delete', id: 'd-globex', name: 'globex', recursive: 'yes' as unknown as boolean },
    ],
    ['an invalid kind', createEntity('e-x', 'x', {}, 'User')],
    ['an entity name with a slash', createEntity('e-x', 'a/b')],
    ['an entity name with a control character', createEntity('e-x', 'a\u0007b')],
    ['an empty entity name', createEntity('e-x', '')],
    ['an entity name over 255 characters', createEntity('e-x', 'n'.repeat(256))],
    ['an entity in an invalid domain name', createEntity('e-x', 'x', {}, 'user', '-acme')],
    ['attributes that are not an object', createEntity('e-x', 'x', [1] as unknown as JsonObject)],
    ['attributes over 64 KiB', createEntity('e-x', 'x', oversized)],
    [
      'an attributes patch that is not an object',
      updateEntity('e-alice', 'alice', null as unknown as JsonObject),
    ],
    ['an entity update with an invalid kind', updateEntity('e-alice', 'alice', {}, '9user')],
    ['an entity delete with an invalid name', deleteEntity('e-alice', 'a\nb')],
    ['an unknown operation', { op: 'domain.rename', id: 'd-acme', name: 'acme' } as unknown as Change],
  ])('refuses %s with validation_failed', (_why, change) => {
    const v = refused(arrive([change])[0]);
    expect(v.code).toBe('validation_failed');
    expect(v.winner).toBeNull();
  });

  it('accepts attributes of exactly 64 KiB of canonical JSON', () => {
    expect(arrive([createEntity('e-x', 'x', exactly64KiB)])[0].ok).toBe(true);
  });

  it('counts the size in UTF-8 bytes', () => {
    const half = { a: 'é'.repeat(32 * 1024) };
    expect(refused(arrive([createEntity('e-x', 'x', half)])[0]).code).toBe('validation_failed');
  });

  it('validates before looking at the state: a bad patch for a missing domain is a validation failure', () => {
    expect(refused(arrive([updateDomain('d-none', 'none', [] as unknown as JsonObject)])[0]).code).toBe(
      'validation_failed',
    );
  });

  it('a refused change does not stop the changes after it', () => {
    const verdicts = arrive([createDomain('d-x', 'Bad'), createDomain('d-y', 'good')]);
    expect(verdicts.map((v) => v.ok)).toEqual([false, true]);
  });
});

describe('nothing gets in that a store would change or refuse (SPEC §3, §5)', () => {
  const deep = (levels: number): JsonObject => {
    let v: JsonObject = {};
    for (let i = 1; i < levels; i++) v = { a: v };
    return v;
  };
  const proto = JSON.parse('{"__proto__":{"polluted":1}}') as JsonObject;
  /** The values settings, attributes and both patches must refuse, and why. */
  const badValues: [string, JsonObject][] = [
    ['a NUL in a string', { a: 'x\u0000y' }],
    ['a NUL in a key', { 'a\u0000': 1 }],
    ['an unpaired surrogate in a string', { a: ['\ud800'] }],
    ['an unpaired surrogate in a key', { '\udc00': 1 }],
    ['a __proto__ key', proto],
    ['65 levels of nesting', deep(65)],
  ];
  /** Each value in every place a change carries JSON. */
  const carriers: [string, (v: JsonObject) => Change][] = [
    ['domain settings', (v) => createDomain('d-x', 'hooli', v)],
    ['a settings patch', (v) => updateDomain('d-acme', 'acme', v)],
    ['entity attributes', (v) => createEntity('e-x', 'x', v)],
    ['an attributes patch', (v) => updateEntity('e-alice', 'alice', v)],
  ];

  it.each(carriers)(
    'refuses each bad value in %s with validation_failed and changes nothing',
    (_where, make) => {
      for (const [why, value] of badValues) {
        const v = refused(arrive([make(value)])[0]);
        expect({ why, code: v.code }).toEqual({ why, code: 'validation_failed' });
      }
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    },
  );

  it.each(carriers)('accepts 64 levels of nesting in %s', (_where, make) => {
    expect(arrive([make(deep(64))])[0].ok).toBe(true);
  });

  const names: [string, string][] = [
    ['a NUL', 'a\u0000b'],
    ['a DEL', 'a\u007fb'],
    ['a C1 control', 'a\u0085b'],
    ['an unpaired high surrogate', 'a\ud800'],
    ['an unpaired low surrogate', '\udfffb'],
  ];

  it.each(names)('refuses %s in a domain name, a kind or an entity name, in every operation', (_why, bad) => {
    const changes: Change[] = [
      createDomain('d-x', `x${bad}`),
      updateDomain('d-acme', `acme${bad}`, {}),
      deleteDomain('d-acme', `${bad}acme`),
      createEntity('e-x', bad),
      createEntity('e-x', 'x', {}, `user${bad}`),
      createEntity('e-x', 'x', {}, 'user', `acme${bad}`),
      updateEntity('e-alice', `alice${bad}`, {}),
      deleteEntity('e-alice', bad),
    ];
    for (const v of arrive(changes)) expect(refused(v).code).toBe('validation_failed');
  });

  it.each(['constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf'])(
    'stores a %s key in settings and attributes exactly as given',
    (key) => {
      const [created, patched] = arrive([
        createEntity('e-x', 'x', { [key]: { x: 'yes' } }),
        updateDomain('d-acme', 'acme', { [key]: { x: 'yes' } }),
      ]);
      expect(attributesOf(created)).toEqual({ [key]: { x: 'yes' } });
      expect(Object.keys(settingsOf(patched))).toContain(key);
      expect(settingsOf(patched)[key]).toEqual({ x: 'yes' });
    },
  );
});

describe('decideInOrder (SPEC §7)', () => {
  it('hands a version only to accepted changes, counting from 0, no-op deletes included', () => {
    const versions = jest.fn(versionFor);
    const { decided } = decideInOrder(
      state(),
      [
        createDomain('d-h', 'hooli'),
        createDomain('d-x', 'acme'),
        deleteEntity('e-gone', 'gone'),
        updateDomain('d-h', 'hooli', { a: 1 }),
        createDomain('d-y', 'hooli'),
      ].map((change) => ({ change })),
      ctx,
      (_, n) => versions(n),
      AT,
    );
    const verdicts = decided.map((d) => d.verdict);
    expect(verdicts.map((v) => v.ok)).toEqual([true, false, true, true, false]);
    expect(versions.mock.calls).toEqual([[0], [1], [2]]);
    expect(decided.map((d) => d.version)).toEqual(['100', undefined, '101', '102', undefined]);
    expect(refused(verdicts[4]).winner).toEqual({
      id: 'd-h',
      name: 'hooli',
      parent: null,
      settings: { a: 1 },
      version: '102',
      createdAt: AT,
      updatedAt: AT,
    });
  });

  it('keeps createdAt and moves updatedAt on an update', () => {
    const [, refusal] = arrive([updateEntity('e-alice', 'alice', { a: 1 }), createEntity('e-x', 'alice')]);
    expect(refused(refusal).winner).toMatchObject({
      id: 'e-alice',
      version: '100',
      createdAt: T0,
      updatedAt: AT,
    });
  });

  it('never changes the base view', () => {
    const base = state();
    arrive([deleteDomain('d-acme', 'acme', true), createDomain('d-h', 'hooli')], base);
    expect(base.view.domainByName('acme')).toMatchObject({ id: 'd-acme' });
    expect(base.view.entityById('e-alice')).toMatchObject({ version: '1' });
    expect(base.view.domainByName('hooli')).toBeUndefined();
  });

  it('checks each change against its own If-Match', () => {
    const { decided } = decideInOrder(
      state(),
      [
        { change: updateDomain('d-acme', 'acme', { a: 1 }), ifMatch: '1' },
        { change: updateDomain('d-acme', 'acme', { a: 2 }), ifMatch: '1' },
      ],
      ctx,
      (_, n) => versionFor(n),
      AT,
    );
    expect(decided.map((d) => (d.verdict.ok ? 'ok' : d.verdict.code))).toEqual(['ok', 'version_conflict']);
  });

  it('follows every accepted effect to its final state in the ledger', () => {
    const { ledger } = decideInOrder(
      state(),
      [
        createEntity('e-x', 'xavier'),
        updateEntity('e-x', 'xavier', { a: 1 }),
        deleteEntity('e-bob', 'bob', 'user', 'sales.acme'),
      ].map((change) => ({ change })),
      ctx,
      (_, n) => versionFor(n),
      AT,
    );
    expect(ledger.entities.get('e-x')).toMatchObject({
      before: undefined,
      deleted: false,
      after: { version: '101', attributes: { a: 1 } },
    });
    expect(ledger.entities.get('e-bob')).toMatchObject({ deleted: true, after: { version: '102' } });
  });

  it('answers an empty batch with no verdicts', () => {
    expect(arrive([])).toEqual([]);
  });

  it('decides a single change the same way decide does', () => {
    const change = updateDomain('d-acme', 'acme', { lang: 'fr' });
    expect(arrive([change])).toEqual([decide(directory(), change, ctx)]);
  });
});
