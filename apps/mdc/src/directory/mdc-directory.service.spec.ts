import { Test } from '@nestjs/testing';
import type { EntityManager } from 'typeorm';
import { Caller, ClusterConfigService, MetricsRegistry, RefusedError } from '@dd/admin-api';
import { CLUSTER_DEFAULTS, ClusterConfig } from '@dd/cluster-config';
import { bucketOf, type Change, type Domain, elementHash, type Entity, MemoryDirectory } from '@dd/directory';
import { type Fake, strictFake } from '@dd/testing';
import { MdcMetrics } from '../ops/mdc.metrics';
import { ApplyChanges, Screen, Submission } from './apply-changes';
import { DirectoryStore } from './directory.store';
import { MdcDirectoryService } from './mdc-directory.service';

const T0 = '2026-01-01T00:00:00.000Z';
const HEAD = 41n;
/** The apply's transaction: ApplyChanges only hands it to the store, so any use of it fails the test. */
const TX = strictFake<EntityManager>('tx');
const CALLER: Caller = { admin: { name: 'alice', scope: '*' }, waitForMdc: false };
const CONFIG: ClusterConfig = {
  cluster: { ...CLUSTER_DEFAULTS },
  masterDomain: 'master',
  sites: [{ id: 'mdc', role: 'master', url: 'http://127.0.0.1:4000', publicKeys: [] }],
  zones: [],
  admins: [],
};

const ACME: Domain = {
  id: '0d2a9f0e-0000-4000-8000-000000000001',
  name: 'acme',
  parent: null,
  settings: { region: 'eu' },
  version: '7',
  createdAt: T0,
  updatedAt: T0,
};
const ALICE: Entity = {
  id: '0d2a9f0e-0000-4000-8000-000000000002',
  domain: 'acme',
  kind: 'user',
  name: 'alice',
  attributes: {},
  version: '8',
  createdAt: T0,
  updatedAt: T0,
};

type StoreReads = Pick<DirectoryStore, 'transaction' | 'lockHead' | 'loadFor' | 'domainByName'>;
type StoreWrites = Pick<
  DirectoryStore,
  | 'writeObjects'
  | 'appendChangeLog'
  | 'appendAudit'
  | 'loadDigests'
  | 'writeDigests'
  | 'moveBuckets'
  | 'setHead'
  | 'notifyChange'
>;

/** DomainDB holding these objects, as the counter lock, the batch load and the admin reads see it. */
function reads(domains: Domain[], entities: Entity[] = []): StoreReads {
  return {
    transaction: (work) => work(TX),
    lockHead: async () => HEAD,
    loadFor: async () => ({
      view: new MemoryDirectory(domains, entities),
      domains: new Map(domains.map((d) => [d.id, d])),
      entities: new Map(entities.map((e) => [e.id, e])),
    }),
    domainByName: async (name) => domains.find((d) => d.name === name),
  };
}

const writes: StoreWrites = {
  writeObjects: async () => undefined,
  appendChangeLog: async () => undefined,
  appendAudit: async () => undefined,
  loadDigests: async () => new Map(),
  writeDigests: async () => undefined,
  moveBuckets: async () => undefined,
  setHead: async () => undefined,
  notifyChange: async () => undefined,
};

async function build(store: Fake<DirectoryStore>) {
  const moduleRef = await Test.createTestingModule({
    providers: [
      ApplyChanges,
      MdcDirectoryService,
      MdcMetrics,
      MetricsRegistry,
      { provide: DirectoryStore, useValue: store },
      { provide: ClusterConfigService, useValue: { current: CONFIG, siteId: 'mdc' } },
    ],
  }).compile();
  return { applier: moduleRef.get(ApplyChanges), directory: moduleRef.get(MdcDirectoryService) };
}

/** What a refused call threw, for its verdict. */
async function refusal(call: Promise<unknown>): Promise<RefusedError> {
  const error = await call.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (error instanceof RefusedError) return error;
  throw new Error(`expected a RefusedError, got ${String(error)}`);
}

describe('MdcDirectoryService: admin writes at the master site (SPEC §5, §7)', () => {
  it('writes a create as one set-wise write with version head+1 and answers synced', async () => {
    const store = strictFake<DirectoryStore>('DirectoryStore', {
      ...reads([]),
      ...writes,
      domainByName: async () => ACME,
    });
    const { directory } = await build(store);

    const written = await directory.createDomain(CALLER, { name: 'hooli', settings: { a: 1 } });

    // The body is the domain as the write left it (never read back): DomainDB's version for it.
    expect(written).toEqual({
      body: expect.objectContaining({ name: 'hooli', parent: null, settings: { a: 1 }, version: '42' }),
      syncState: 'synced',
    });
    expect(store.writeObjects).toHaveBeenCalledTimes(1);
    expect(store.writeObjects).toHaveBeenCalledWith(
      TX,
      [
        {
          domain: expect.objectContaining({ name: 'hooli', parent: null, settings: { a: 1 }, version: '42' }),
          deletedAt: null,
        },
      ],
      [],
    );
    expect(store.appendChangeLog).toHaveBeenCalledWith(TX, [
      expect.objectContaining({ version: '42', object_type: 'domain', domain: 'hooli', op: 'put' }),
    ]);
    expect(store.appendAudit).toHaveBeenCalledWith(TX, [
      expect.objectContaining({ version: '42', site: 'mdc', seq: null, actor: 'alice', op: 'domain.create' }),
    ]);
    expect(store.setHead).toHaveBeenCalledWith(TX, 42n);
  });

  it('throws the rule’s refusal for a create of a name that exists, with the winner, and writes nothing', async () => {
    const store = strictFake<DirectoryStore>('DirectoryStore', reads([ACME]));
    const { directory } = await build(store);

    const { verdict } = await refusal(directory.createDomain(CALLER, { name: 'acme', settings: {} }));

    expect(verdict).toMatchObject({ ok: false, code: 'already_exists', winner: ACME });
  });

  it('refuses a PATCH whose If-Match names an older version with version_conflict, and writes nothing', async () => {
    const store = strictFake<DirectoryStore>('DirectoryStore', reads([ACME]));
    const { directory } = await build(store);

    const { verdict } = await refusal(directory.patchDomain(CALLER, 'acme', { a: 1 }, { ifMatch: '3' }));

    expect(verdict).toMatchObject({ ok: false, code: 'version_conflict', winner: ACME });
  });

  it.each([
    ['a NUL in the entity name', { kind: 'user', name: 'a\u0000b', attributes: {} }],
    ['an unpaired surrogate in the entity name', { kind: 'user', name: 'a\ud800', attributes: {} }],
    ['a NUL in an attribute', { kind: 'user', name: 'bob', attributes: { a: '\u0000' } }],
  ])(
    'refuses %s with validation_failed before the change reaches the store (SPEC §5)',
    async (_why, input) => {
      // only the domain is looked up (by its name from the path); no transaction, no load, no write
      const store = strictFake<DirectoryStore>('DirectoryStore', { domainByName: async () => ACME });
      const { directory } = await build(store);

      const { verdict } = await refusal(directory.createEntity(CALLER, 'acme', input));

      expect(verdict).toMatchObject({ code: 'validation_failed', winner: null });
    },
  );
});

describe('ApplyChanges: one batch, decided in order and written set-wise (SPEC §7)', () => {
  it('never asks the store about a change that fails the field checks, and refuses it (SPEC §5)', async () => {
    const store = strictFake<DirectoryStore>('DirectoryStore', { ...reads([ACME]), ...writes });
    const { applier } = await build(store);
    const bad = {
      op: 'entity.create',
      id: 'id-bad',
      domain: 'acme',
      kind: 'user',
      name: 'nul\u0000name',
      attributes: {},
    } as const;
    const good = { op: 'domain.create', id: 'id-hooli', name: 'hooli', parent: null, settings: {} } as const;

    const decided = await applier.apply('mdc', [
      { change: bad, actor: 'site-a', seq: 1 },
      { change: good, actor: 'site-a', seq: 2 },
    ]);

    expect(store.loadFor).toHaveBeenCalledWith(TX, [good]);
    expect(decided.map((d) => (d.verdict.ok ? 'applied' : d.verdict.code))).toEqual([
      'validation_failed',
      'applied',
    ]);
  });

  it('gives accepted changes consecutive versions after the head and none to a refused one', async () => {
    const store = strictFake<DirectoryStore>('DirectoryStore', { ...reads([ACME]), ...writes });
    const { applier } = await build(store);
    const hooli = { op: 'domain.create', id: 'id-hooli', name: 'hooli', parent: null, settings: {} } as const;
    const again = { op: 'domain.create', id: 'id-acme-2', name: 'acme', parent: null, settings: {} } as const;
    const bob = {
      op: 'entity.create',
      id: 'id-bob',
      domain: 'acme',
      kind: 'user',
      name: 'bob',
      attributes: {},
    } as const;

    const decided = await applier.apply('mdc', [
      { change: hooli, actor: 'alice', seq: null },
      { change: again, actor: 'alice', seq: null },
      { change: bob, actor: 'bob', seq: null },
    ]);

    expect(decided.map((d) => [d.verdict.ok, d.version])).toEqual([
      [true, '42'],
      [false, undefined],
      [true, '43'],
    ]);
    expect(store.appendChangeLog).toHaveBeenCalledWith(TX, [
      expect.objectContaining({ version: '42', object_type: 'domain', object_id: 'id-hooli', op: 'put' }),
      expect.objectContaining({ version: '43', object_type: 'entity', object_id: 'id-bob', domain: 'acme' }),
    ]);
    expect(store.appendAudit).toHaveBeenCalledWith(TX, [
      expect.objectContaining({ version: '42', op: 'domain.create', domain: 'hooli', change: hooli }),
      expect.objectContaining({
        version: '43',
        op: 'entity.create',
        domain: 'acme',
        actor: 'bob',
        change: bob,
      }),
    ]);
    expect(store.setHead).toHaveBeenCalledWith(TX, 43n);
    expect(store.notifyChange).toHaveBeenCalledWith(
      TX,
      JSON.stringify({ version: '43', domains: ['hooli', 'acme'], tree: true }),
    );
  });

  it('logs every object a recursive delete removes under the one version of that delete', async () => {
    const store = strictFake<DirectoryStore>('DirectoryStore', { ...reads([ACME], [ALICE]), ...writes });
    const { applier } = await build(store);

    await applier.apply('mdc', [
      {
        change: { op: 'domain.delete', id: ACME.id, name: 'acme', recursive: true },
        actor: 'alice',
        seq: null,
      },
    ]);

    const rows = store.appendChangeLog.mock.calls[0][1];
    expect(rows).toHaveLength(2);
    expect(rows).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ version: '42', object_type: 'entity', object_id: ALICE.id, op: 'delete' }),
        expect.objectContaining({ version: '42', object_type: 'domain', object_id: ACME.id, op: 'delete' }),
      ]),
    );
    expect(store.appendAudit.mock.calls[0][1]).toHaveLength(1);
    expect(store.setHead).toHaveBeenCalledWith(TX, 42n);
  });

  it('moves the bucket of each entity it writes, and drops every bucket of a domain it deletes (SPEC §8 scale)', async () => {
    const store = strictFake<DirectoryStore>('DirectoryStore', { ...reads([ACME], [ALICE]), ...writes });
    const { applier } = await build(store);
    const bob = {
      op: 'entity.create',
      id: '00000000-0000-4000-8000-00000000b0b0',
      domain: 'acme',
      kind: 'user',
      name: 'bob',
      attributes: {},
    } as const;

    await applier.apply('mdc', [{ change: bob, actor: 'alice', seq: null }]);
    await applier.apply('mdc', [
      {
        change: { op: 'domain.delete', id: ACME.id, name: 'acme', recursive: true },
        actor: 'alice',
        seq: null,
      },
    ]);

    const [created, deleted] = store.moveBuckets.mock.calls;
    const bobHash = elementHash({ ...bob, version: '42', createdAt: '', updatedAt: '' });
    expect(created[1]).toEqual(
      new Map([['acme', new Map([[bucketOf(bob.id), { count: 1, sum: bobHash.toString() }]])]]),
    );
    expect(created[2]).toEqual([]);
    expect(deleted[1]).toEqual(new Map());
    expect(deleted[2]).toEqual(['acme']);
  });
});

describe('ApplyChanges with a screen (SPEC §9: a push changes only what its site serves)', () => {
  const FORBIDDEN = { ok: false as const, code: 'forbidden' as const, message: 'not yours', winner: null };
  const create = (seq: number, name: string): Submission => ({
    change: { op: 'entity.create', id: `id-${name}`, domain: 'acme', kind: 'user', name, attributes: {} },
    actor: 'alice',
    seq,
  });
  /** Refuses the entities named `bob`. */
  const noBob: Screen = ({ change }) =>
    change.op === 'entity.create' && change.name === 'bob' ? FORBIDDEN : null;

  it('answers a screened change with the screen’s refusal, gives it no version, and decides the rest in order', async () => {
    const store = strictFake<DirectoryStore>('DirectoryStore', { ...reads([ACME]), ...writes });
    const { applier } = await build(store);

    const decided = await applier.applyLocked(
      TX,
      HEAD,
      'site-a',
      'e1',
      [create(1, 'al'), create(2, 'bob'), create(3, 'cy')],
      noBob,
    );

    expect(decided.map((d) => [d.item.seq, d.verdict.ok, d.version])).toEqual([
      [1, true, '42'],
      [2, false, undefined],
      [3, true, '43'],
    ]);
    expect(decided[1].verdict).toEqual(FORBIDDEN);
    expect(store.appendAudit).toHaveBeenCalledWith(TX, [
      expect.objectContaining({ seq: 1, version: '42' }),
      expect.objectContaining({ seq: 3, version: '43' }),
    ]);
    expect(store.writeObjects.mock.calls[0][2].map((w: { entity: Entity }) => w.entity.name)).toEqual([
      'al',
      'cy',
    ]);
    expect(store.setHead).toHaveBeenCalledWith(TX, 43n);
  });

  it('lets the screen look up the stored state the batch loaded', async () => {
    const seen: unknown[] = [];
    const looking: Screen = ({ change }, stored) => {
      seen.push(stored.domainById(change.id!));
      return FORBIDDEN;
    };
    const update: Change = { op: 'domain.update', id: ACME.id, name: 'acme', patch: { a: 1 } };
    const { applier } = await build(strictFake<DirectoryStore>('DirectoryStore', reads([ACME])));

    await applier.applyLocked(
      TX,
      HEAD,
      'site-a',
      'e1',
      [{ change: update, actor: 'alice', seq: 1 }],
      looking,
    );

    expect(seen).toEqual([ACME]);
  });

  it('writes nothing when the screen refuses the whole batch', async () => {
    const { applier } = await build(strictFake<DirectoryStore>('DirectoryStore', reads([ACME])));

    const decided = await applier.applyLocked(TX, HEAD, 'site-a', 'e1', [create(1, 'al')], () => FORBIDDEN);

    expect(decided).toEqual([{ item: create(1, 'al'), verdict: FORBIDDEN }]);
  });
});
