import { DirectoryOverlay, isTombstone, MemoryDirectory } from './directory-view';
import type { Domain, Entity, Tombstone } from './model';

const T0 = '2024-01-01T00:00:00.000Z';
const T1 = '2024-02-01T00:00:00.000Z';

const acme: Domain = {
  id: 'd-acme',
  name: 'acme',
  parent: null,
  settings: {},
  version: '1',
  createdAt: T0,
  updatedAt: T0,
};
const sales: Domain = { ...acme, id: 'd-sales', name: 'sales.acme', parent: 'acme' };
const alice: Entity = {
  id: 'e-alice',
  domain: 'acme',
  kind: 'user',
  name: 'alice',
  attributes: { mail: 'alice@acme' },
  version: '1',
  createdAt: T0,
  updatedAt: T0,
};
const oldDomain: Tombstone = { id: 'd-old', type: 'domain', domain: 'old', version: '2', deletedAt: T0 };
const goneEntity: Tombstone = { id: 'e-gone', type: 'entity', domain: 'acme', version: '3', deletedAt: T0 };

const memory = (): MemoryDirectory => new MemoryDirectory([acme, sales], [alice], [oldDomain, goneEntity]);

describe('isTombstone', () => {
  it('tells a tombstone from a live object', () => {
    expect(isTombstone(oldDomain)).toBe(true);
    expect(isTombstone(acme)).toBe(false);
    expect(isTombstone(alice)).toBe(false);
    expect(isTombstone(undefined)).toBe(false);
    expect(isTombstone(null)).toBe(false);
  });
});

describe('MemoryDirectory', () => {
  it('finds domains by id and by name, tombstones by id only', () => {
    const view = memory();
    expect(view.domainById('d-acme')).toBe(acme);
    expect(view.domainByName('sales.acme')).toBe(sales);
    expect(view.domainById('d-old')).toBe(oldDomain);
    expect(view.domainByName('old')).toBeUndefined();
    expect(view.domainById('nope')).toBeUndefined();
  });

  it('finds entities by id and by (domain, kind, name)', () => {
    const view = memory();
    expect(view.entityById('e-alice')).toBe(alice);
    expect(view.entityByKey('acme', 'user', 'alice')).toBe(alice);
    expect(view.entityByKey('acme', 'group', 'alice')).toBeUndefined();
    expect(view.entityById('e-gone')).toBe(goneEntity);
  });

  it('lists live children and entities', () => {
    const view = memory();
    expect(view.childDomains('acme')).toEqual([sales]);
    expect(view.childDomains('sales.acme')).toEqual([]);
    expect(view.entitiesOf('acme')).toEqual([alice]);
    expect(view.entitiesOf('sales.acme')).toEqual([]);
  });
});

describe('DirectoryOverlay', () => {
  it('makes a created object live with the version, createdAt = updatedAt = the time', () => {
    const overlay = new DirectoryOverlay(memory());
    overlay.apply(
      [
        {
          type: 'domain.put',
          domain: { id: 'd-eu', name: 'eu.sales.acme', parent: 'sales.acme', settings: {} },
          created: true,
        },
      ],
      '10',
      T1,
    );
    const eu = {
      id: 'd-eu',
      name: 'eu.sales.acme',
      parent: 'sales.acme',
      settings: {},
      version: '10',
      createdAt: T1,
      updatedAt: T1,
    };
    expect(overlay.domainById('d-eu')).toEqual(eu);
    expect(overlay.domainByName('eu.sales.acme')).toEqual(eu);
    expect(overlay.childDomains('sales.acme')).toEqual([eu]);
  });

  it('keeps createdAt on an update', () => {
    const overlay = new DirectoryOverlay(memory());
    overlay.apply(
      [{ type: 'entity.put', entity: { ...alice, attributes: { mail: 'new' } }, created: false }],
      '11',
      T1,
    );
    expect(overlay.entityById('e-alice')).toEqual({
      ...alice,
      attributes: { mail: 'new' },
      version: '11',
      updatedAt: T1,
    });
    expect(overlay.entityByKey('acme', 'user', 'alice')).toMatchObject({ version: '11' });
    expect(overlay.entitiesOf('acme')).toEqual([expect.objectContaining({ id: 'e-alice', version: '11' })]);
  });

  it('turns deletes into tombstones and hides them from names, children and entity lists', () => {
    const overlay = new DirectoryOverlay(memory());
    overlay.apply(
      [
        { type: 'entity.delete', id: 'e-alice', domain: 'acme' },
        { type: 'domain.delete', id: 'd-sales', name: 'sales.acme' },
      ],
      '12',
      T1,
    );
    expect(overlay.entityById('e-alice')).toEqual({
      id: 'e-alice',
      type: 'entity',
      domain: 'acme',
      version: '12',
      deletedAt: T1,
    });
    expect(overlay.entityByKey('acme', 'user', 'alice')).toBeUndefined();
    expect(overlay.entitiesOf('acme')).toEqual([]);
    expect(overlay.domainById('d-sales')).toEqual({
      id: 'd-sales',
      type: 'domain',
      domain: 'sales.acme',
      version: '12',
      deletedAt: T1,
    });
    expect(overlay.domainByName('sales.acme')).toBeUndefined();
    expect(overlay.childDomains('acme')).toEqual([]);
  });

  it('sees a name deleted then created again as the new object', () => {
    const overlay = new DirectoryOverlay(memory());
    overlay.apply([{ type: 'entity.delete', id: 'e-alice', domain: 'acme' }], '12', T1);
    overlay.apply([{ type: 'entity.put', entity: { ...alice, id: 'e-alice2' }, created: true }], '13', T1);
    expect(overlay.entityByKey('acme', 'user', 'alice')).toMatchObject({ id: 'e-alice2', createdAt: T1 });
    expect(overlay.entitiesOf('acme').map((e) => e.id)).toEqual(['e-alice2']);
    expect(isTombstone(overlay.entityById('e-alice'))).toBe(true);
  });

  it('never changes its base', () => {
    const base = memory();
    const overlay = new DirectoryOverlay(base);
    overlay.apply(
      [
        { type: 'entity.delete', id: 'e-alice', domain: 'acme' },
        { type: 'domain.put', domain: { ...acme, settings: { a: 1 } }, created: false },
      ],
      '12',
      T1,
    );
    expect(base.entityById('e-alice')).toBe(alice);
    expect(base.domainByName('acme')).toBe(acme);
    expect(base.entitiesOf('acme')).toEqual([alice]);
  });
});
