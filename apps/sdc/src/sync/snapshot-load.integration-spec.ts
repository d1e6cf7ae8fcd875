import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import {
  addElement,
  bucketOf,
  computeBucketDigests,
  computeDomainDigest,
  Domain,
  elementHash,
  Entity,
  sumDigests,
} from '@dd/directory';
import type { SnapshotRequest, SnapshotResponse } from '@dd/sync-protocol';
import { createTestRedisDb, TestRedisDb } from '../../../../test/harness/services';
import { hashHex } from '../cache/cache-plan';
import { SiteCacheStore } from '../cache/site-cache.store';
import { Resync } from './resync';
import { SnapshotLoad } from './snapshot-load';

const at = '2026-01-01T00:00:00.000Z';

function domain(name: string, parent: string | null = null, version = '1'): Domain {
  return { id: randomUUID(), name, parent, settings: { of: name }, version, createdAt: at, updatedAt: at };
}

function entity(domainName: string, name: string, version = '1'): Entity {
  const e = {
    id: randomUUID(),
    domain: domainName,
    kind: 'user',
    name,
    attributes: { n: name, v: version },
    version,
  };
  return { ...e, createdAt: at, updatedAt: at };
}

/**
 * The MDC's side of SPEC §8 paged snapshots, in memory: (domain bytewise, bucket, id) order, a
 * keyset cursor, slices, records and tree on the first page. Records every request it answers.
 */
class FakeMdc {
  readonly requests: SnapshotRequest[] = [];
  constructor(
    public domains: Domain[],
    public entities: Entity[],
    public scope: Set<string>,
    public version = '100',
  ) {}

  snapshot = async (req: SnapshotRequest): Promise<SnapshotResponse> => {
    this.requests.push(req);
    const live = new Map(this.domains.map((d) => [d.name, d]));
    const wanted = req.slices
      ? new Map(req.slices.map((s) => [s.domain, new Set(s.buckets)] as const))
      : new Map((req.domains ?? [...this.scope]).map((d) => [d, 'all' as const]));
    for (const name of [...wanted.keys()]) if (!live.has(name) || !this.scope.has(name)) wanted.delete(name);
    const key = (e: { domain: string; bucket: number; id: string }) => [e.domain, e.bucket, e.id] as const;
    const cmp = (a: readonly [string, number, string], b: readonly [string, number, string]) =>
      a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1] || (a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0);
    const rows = this.entities
      .filter((e) => {
        const w = wanted.get(e.domain);
        return w !== undefined && (w === 'all' || w.has(bucketOf(e.id)));
      })
      .map((e) => ({ e, k: key({ domain: e.domain, bucket: bucketOf(e.id), id: e.id }) }))
      .sort((a, b) => cmp(a.k, b.k))
      .filter((r) => !req.after || cmp(r.k, key(req.after)) > 0);
    const limit = req.limit ?? 5000;
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      version: this.version,
      ...(req.tree && !req.after
        ? {
            tree: this.domains.map((d) =>
              this.scope.has(d.name)
                ? { domain: d, scoped: true }
                : { domain: { ...d, settings: {} }, scoped: false },
            ),
          }
        : {}),
      records: req.after ? [] : [...wanted.keys()].map((n) => live.get(n)!),
      entities: page.map((r) => r.e),
      next: page.length === limit && last ? { domain: last.k[0], bucket: last.k[1], id: last.k[2] } : null,
    };
  };
}

/** What the cache holds for a served domain equals the MDC's state, digests included. */
async function expectServedAsMdc(store: SiteCacheStore, mdc: FakeMdc, name: string): Promise<void> {
  const record = mdc.domains.find((d) => d.name === name)!;
  const entities = mdc.entities.filter((e) => e.domain === name);
  const cached = await store.domain(name);
  expect({ name, scoped: cached?.scoped, domain: cached?.domain }).toEqual({
    name,
    scoped: true,
    domain: record,
  });
  const here = (await store.entitiesOf(name)).map((e) => e.entity);
  expect(new Set(here.map((e) => JSON.stringify(e)))).toEqual(
    new Set(entities.map((e) => JSON.stringify(e))),
  );
  expect((await store.digests()).get(name)).toEqual(computeDomainDigest(record, entities));
  expect(await store.bucketDigests(name)).toEqual(computeBucketDigests(entities));
  for (const e of entities) expect((await store.entityById(name, e.id))?.entity).toEqual(e);
  const members = (await store.bucketMembersOf([{ domain: name, from: 0, to: 255 }])).get(name)!;
  expect(members.size).toBe(entities.length);
  for (const m of members.values()) expect(m.bucket).toBe(bucketOf(m.cached!.entity.id));
}

describe('a paged snapshot streamed into a real Redis (SPEC §8 scale)', () => {
  let db: TestRedisDb;
  let redis: Redis;
  let n = 0;
  const site = () => `site-${++n}`;

  beforeAll(async () => {
    db = await createTestRedisDb('snapload');
    redis = new Redis(db.url);
  });
  afterAll(async () => {
    redis.disconnect();
    await db.release();
  });

  function zone(): { domains: Domain[]; entities: Entity[] } {
    const domains = [
      domain('corp'),
      domain('eu.corp', 'corp'),
      domain('sales.eu.corp', 'eu.corp'),
      domain('other'),
    ];
    const entities = [
      ...Array.from({ length: 300 }, (_, i) => entity('corp', `c${i}`)),
      ...Array.from({ length: 120 }, (_, i) => entity('eu.corp', `e${i}`)),
      ...Array.from({ length: 1 }, (_, i) => entity('sales.eu.corp', `s${i}`)),
      ...Array.from({ length: 40 }, (_, i) => entity('other', `o${i}`)),
    ];
    return { domains, entities };
  }

  it.each([1, 7, 64, 5000])(
    'bootstraps a whole scope in pages of %i, every domain served complete',
    async (pageSize) => {
      const { domains, entities } = zone();
      const mdc = new FakeMdc(domains, entities, new Set(['corp', 'eu.corp', 'sales.eu.corp']));
      const store = new SiteCacheStore(redis, site());
      const servedWhileLoading: string[] = [];
      const outcome = await new SnapshotLoad(store, mdc.snapshot, { kind: 'reload' }, pageSize).run(
        async () => {
          // never partial: a domain is served only when every entity of it is there
          for (const d of ['corp', 'eu.corp', 'sales.eu.corp']) {
            const cached = await store.domain(d);
            if (!cached?.scoped) continue;
            servedWhileLoading.push(d);
            expect(await store.entityCount(d)).toBe(entities.filter((e) => e.domain === d).length);
          }
        },
      );
      expect(outcome).toMatchObject({ version: '100', entities: 421 });
      expect(outcome.pages).toBe(
        pageSize >= 421 ? 1 : Math.ceil(421 / pageSize) + (421 % pageSize === 0 ? 1 : 0),
      );
      for (const d of ['corp', 'eu.corp', 'sales.eu.corp']) await expectServedAsMdc(store, mdc, d);
      expect(await store.domain('other')).toEqual({
        domain: { ...domains[3], settings: {} },
        scoped: false,
        h: '',
      });
      expect(await store.entityCount('other')).toBe(0);
      if (pageSize < 100) expect(servedWhileLoading.length).toBeGreaterThan(0);

      // a reload over a served scope the MDC has moved on from: deletes swept, updates and creates laid over
      mdc.entities = mdc.entities
        .filter((_, i) => i % 5 !== 0)
        .map((e, i) => (i % 7 === 0 ? { ...e, attributes: { n: 'updated' }, version: '3' } : e))
        .concat(Array.from({ length: 30 }, (_, i) => entity('eu.corp', `late${i}`, '3')));
      await new SnapshotLoad(store, mdc.snapshot, { kind: 'reload' }, pageSize).run();
      for (const d of ['corp', 'eu.corp', 'sales.eu.corp']) await expectServedAsMdc(store, mdc, d);
    },
  );

  it('repairs only the listed buckets: extra, missing and edited entities there; other buckets untouched', async () => {
    const { domains, entities } = zone();
    const mdc = new FakeMdc(domains, entities, new Set(['corp']));
    const store = new SiteCacheStore(redis, site());
    await new SnapshotLoad(store, mdc.snapshot, { kind: 'reload' }, 50).run();
    await expectServedAsMdc(store, mdc, 'corp');

    // the MDC moves on in two buckets (a create, an update, a delete) the site missed; the cache is
    // also edited by hand in a third bucket it is not asked to repair
    const corp = mdc.entities.filter((e) => e.domain === 'corp');
    const [updated, deleted, untouched] = [
      corp[0],
      corp[1],
      corp.find((e) => ![bucketOf(corp[0].id), bucketOf(corp[1].id)].includes(bucketOf(e.id)))!,
    ];
    const created = entity('corp', 'newcomer');
    mdc.entities = mdc.entities
      .filter((e) => e.id !== deleted.id)
      .map((e) => (e.id === updated.id ? { ...e, attributes: { n: 'moved on' }, version: '2' } : e))
      .concat(created);
    const tamper = await store.entityById('corp', untouched.id);
    const plan = store
      .plan()
      .putEntity({ entity: { ...tamper!.entity, attributes: { hand: 'edit' } }, h: tamper!.h });
    await store.commit(plan, false);

    const buckets = [...new Set([bucketOf(updated.id), bucketOf(deleted.id), bucketOf(created.id)])];
    const read = jest.spyOn(store, 'bucketMembersOf');
    const outcome = await new SnapshotLoad(
      store,
      mdc.snapshot,
      { kind: 'slices', slices: [{ domain: 'corp', buckets }] },
      3,
    ).run();
    // only the buckets asked for are read back from the cache (a 1M-entity domain is not)
    const ranges = read.mock.calls.flatMap(([r]) => r);
    expect(ranges.length).toBeGreaterThan(0);
    for (const r of ranges) for (let b = r.from; b <= r.to; b++) expect(buckets).toContain(b);
    read.mockRestore();
    const expected = mdc.entities.filter((e) => e.domain === 'corp' && buckets.includes(bucketOf(e.id)));
    expect(outcome.entities).toBe(expected.length);
    expect((await store.entityById('corp', updated.id))?.entity.attributes).toEqual({ n: 'moved on' });
    expect(await store.entityById('corp', deleted.id)).toBeUndefined();
    expect((await store.entityById('corp', created.id))?.entity).toEqual(created);
    // not asked for: left as it was (the scrub and the manifest find it)
    expect((await store.entityById('corp', untouched.id))?.entity.attributes).toEqual({ hand: 'edit' });
    const buckets2 = await store.bucketDigests('corp');
    const recount = computeBucketDigests(mdc.entities.filter((e) => e.domain === 'corp'));
    for (const b of buckets) expect(buckets2.get(b)).toEqual(recount.get(b));
    // the served digest moved by exactly what changed: record + Σ buckets
    const record = mdc.domains.find((d) => d.name === 'corp')!;
    expect((await store.digests()).get('corp')).toEqual(
      addElement(sumDigests(buckets2.values()), elementHash(record)),
    );
  });

  it('keeps an object with a change still queued as the site has it, through a repair and a reload', async () => {
    const { domains, entities } = zone();
    const mdc = new FakeMdc(domains, entities, new Set(['corp']));
    const store = new SiteCacheStore(redis, site());
    await new SnapshotLoad(store, mdc.snapshot, { kind: 'reload' }, 500).run();
    const local = mdc.entities.find((e) => e.domain === 'corp')!;
    const mine = { ...local, attributes: { mine: true }, version: '100+site.1' };
    const queuedNew = entity('corp', 'queued-create', '100+site.2');
    const plan = store
      .plan()
      .putEntity({ entity: mine, h: hashHex(mine) })
      .putEntity({ entity: queuedNew, h: hashHex(queuedNew) })
      .markPending([mine.id, queuedNew.id], ['corp'], 1);
    await store.commit(plan, false);
    const check = async () => {
      expect((await store.entityById('corp', mine.id))?.entity).toEqual(mine);
      expect((await store.entityById('corp', queuedNew.id))?.entity).toEqual(queuedNew);
    };
    const slices = [{ domain: 'corp', buckets: [bucketOf(mine.id), bucketOf(queuedNew.id)] }];
    await new SnapshotLoad(store, mdc.snapshot, { kind: 'slices', slices }, 1).run(check);
    await check();
    await new SnapshotLoad(store, mdc.snapshot, { kind: 'reload' }, 1).run(check);
    await check();
  });

  it('drops what left the tree and unloads what left the scope on a reload, and loads a zone given by name', async () => {
    const { domains, entities } = zone();
    const mdc = new FakeMdc(domains, entities, new Set(['corp', 'eu.corp', 'sales.eu.corp']));
    const store = new SiteCacheStore(redis, site());
    await new SnapshotLoad(store, mdc.snapshot, { kind: 'reload' }, 100).run();
    // the MDC deletes sales.eu.corp, and corp's zone moves away from this site
    mdc.domains = mdc.domains.filter((d) => d.name !== 'sales.eu.corp');
    mdc.entities = mdc.entities.filter((e) => e.domain !== 'sales.eu.corp');
    mdc.scope = new Set(['other']);
    await new SnapshotLoad(store, mdc.snapshot, { kind: 'reload' }, 100).run();
    expect(await store.domain('sales.eu.corp')).toBeUndefined();
    expect(await store.entityCount('sales.eu.corp')).toBe(0);
    expect((await store.domain('corp'))?.scoped).toBe(false);
    expect(await store.entityCount('corp')).toBe(0);
    expect((await store.digests()).has('corp')).toBe(false);
    await expectServedAsMdc(store, mdc, 'other');

    // a zone given by name (a config reload): loaded behind its tree entry, then served
    mdc.scope = new Set(['other', 'corp', 'eu.corp']);
    const outcome = await new SnapshotLoad(
      store,
      mdc.snapshot,
      { kind: 'domains', domains: ['corp', 'eu.corp'] },
      37,
    ).run();
    expect(outcome.served.sort()).toEqual(['corp', 'eu.corp']);
    await expectServedAsMdc(store, mdc, 'corp');
    await expectServedAsMdc(store, mdc, 'eu.corp');
  });

  describe('the rolling scrub, a budget of objects at a time', () => {
    const BUDGET = 1000;

    async function loaded(sizes: Record<string, number>) {
      const domains = Object.keys(sizes).map((name) => domain(name));
      const entities = Object.entries(sizes).flatMap(([d, n]) =>
        Array.from({ length: n }, (_, i) => entity(d, `u${i}`)),
      );
      const mdc = new FakeMdc(domains, entities, new Set(Object.keys(sizes)));
      const store = new SiteCacheStore(redis, site());
      await new SnapshotLoad(store, mdc.snapshot, { kind: 'reload' }, 5000).run();
      return { store, mdc, resync: new Resync(store), entities };
    }

    /** Scrubs until a cycle fixes something; how many cycles that took. */
    async function cyclesToFind(resync: Resync, limit: number): Promise<{ cycles: number; fixed: string[] }> {
      for (let cycles = 1; cycles <= limit; cycles++) {
        const fixed = await resync.scrub(BUDGET);
        if (fixed.length > 0) return { cycles, fixed };
      }
      return { cycles: Infinity, fixed: [] };
    }

    it('finds a hand edit anywhere in a large domain within ⌈scope / budget⌉ cycles, slice by slice, and nothing when there is none', async () => {
      const { store, resync, entities } = await loaded({ big: 3000, small1: 10, small2: 20 });
      const scope = 3000 + 10 + 20 + 3;
      const bound = Math.ceil(scope / BUDGET);
      // a full round finds nothing on a clean cache
      expect((await cyclesToFind(resync, bound + 1)).cycles).toBe(Infinity);
      for (const victim of [entities[17], entities[2999], entities[1500]]) {
        const cached = await store.entityById('big', victim.id);
        const edited = { ...cached!.entity, attributes: { hand: 'edit' } };
        await store.commit(store.plan().putEntity({ entity: edited, h: cached!.h }), false);
        const { cycles, fixed } = await cyclesToFind(resync, bound + 1);
        expect({ cycles: cycles <= bound, fixed }).toEqual({ cycles: true, fixed: ['big'] });
        // the digests now say what the data says: the edited bucket's, and the domain's
        const here = (await store.entitiesOf('big')).map((e) => e.entity);
        expect(await store.bucketDigests('big')).toEqual(computeBucketDigests(here));
        expect((await store.digests()).get('big')).toEqual(
          computeDomainDigest((await store.domain('big'))!.domain, here),
        );
      }
    });

    it('judges a bucket scanned over several cycles right while legitimate writes land in between: no false fix, and an edit still found', async () => {
      const { store, resync, entities } = await loaded({ big: 3000 });
      const pulls = new Resync(store);
      const byName = new Map(entities.map((e) => [e.name, e]));
      let version = 10;
      let splitWrites = 0;
      // budget 7 and ~12 entities a bucket: most buckets are scanned over two cycles or more; in
      // between, the entity the scan read last is changed the legitimate way (a pulled page)
      for (let cycle = 0; cycle < 150; cycle++) {
        const cursor = (await store.meta()).scrub;
        const inside = cursor.includes('\u0000')
          ? JSON.parse(cursor.slice(cursor.indexOf('\u0000') + 1))
          : null;
        const e = inside?.lastField
          ? byName.get(inside.lastField.split('\u0000')[1])
          : entities[(cycle * 37) % 3000];
        if (inside?.lastField) splitWrites += 1;
        version += 1;
        const now = { ...e!, attributes: { n: cycle }, version: String(version) };
        await pulls.applyPulled(
          [{ type: 'entity.put', version: String(version), entity: now }],
          String(version),
        );
        expect(await resync.scrub(7)).toEqual([]);
      }
      expect(splitWrites).toBeGreaterThan(50);
      const victim = await store.entityById('big', entities[2123].id);
      await store.commit(
        store.plan().putEntity({ entity: { ...victim!.entity, attributes: { hand: 'edit' } }, h: victim!.h }),
        false,
      );
      let found: string[] = [];
      for (let cycle = 0; cycle < 500 && found.length === 0; cycle++) found = await resync.scrub(7);
      expect(found).toEqual(['big']);
    });

    it('re-hashes a domain that fits the budget whole, its record included', async () => {
      const { store, resync } = await loaded({ a: 5, b: 5 });
      const cached = (await store.domain('b'))!;
      await store.commit(
        store.plan().putDomain({ ...cached, domain: { ...cached.domain, settings: { hand: 1 } } }),
        false,
      );
      expect(await resync.scrub(BUDGET)).toEqual(['b']);
      expect(await resync.scrub(BUDGET)).toEqual([]);
    });

    it('takes a large domain whose entity count disagrees with its buckets back to a tree entry, to be reloaded', async () => {
      const { store, resync } = await loaded({ big: 2500 });
      // an entity the bucket index does not know (written by hand into the hash alone)
      await redis.hset(
        `${store.keys.entities('big')}`,
        'user\u0000intruder',
        JSON.stringify({ entity: entity('big', 'intruder'), h: '0' }),
      );
      expect(await resync.scrub(BUDGET)).toEqual(['big']);
      expect((await store.domain('big'))?.scoped).toBe(false);
      expect(await store.entityCount('big')).toBe(0);
      expect((await store.digests()).has('big')).toBe(false);
    });
  });

  describe('what the review found (each failed before its fix)', () => {
    it('replaces an entity the MDC gave another id under the same name, by repair and by pull', async () => {
      const { domains, entities } = zone();
      const mdc = new FakeMdc(domains, entities, new Set(['corp']));
      const store = new SiteCacheStore(redis, site());
      await new SnapshotLoad(store, mdc.snapshot, { kind: 'reload' }, 500).run();
      // the MDC's c0 is now another entity (deleted and created again: a new id), the site missed it
      const old = mdc.entities.find((e) => e.name === 'c0')!;
      let fresh = entity('corp', 'c0', '5');
      while (bucketOf(fresh.id) === bucketOf(old.id)) fresh = entity('corp', 'c0', '5');
      mdc.entities = mdc.entities.filter((e) => e.id !== old.id).concat(fresh);
      const slices = [
        { domain: 'corp', buckets: [bucketOf(old.id), bucketOf(fresh.id)].sort((a, b) => a - b) },
      ];
      await new SnapshotLoad(store, mdc.snapshot, { kind: 'slices', slices }, 500).run();
      await expectServedAsMdc(store, mdc, 'corp');

      // and through a pulled page: c1 re-created under a new id
      const old1 = mdc.entities.find((e) => e.name === 'c1')!;
      const fresh1 = entity('corp', 'c1', '6');
      mdc.entities = mdc.entities.filter((e) => e.id !== old1.id).concat(fresh1);
      await new Resync(store).applyPulled([{ type: 'entity.put', version: '6', entity: fresh1 }], '6');
      await expectServedAsMdc(store, mdc, 'corp');
    });

    it('reloads a small domain holding an entity its bucket index does not know, rather than repairing forever', async () => {
      const { domains, entities } = zone();
      const mdc = new FakeMdc(domains, entities, new Set(['corp', 'eu.corp']));
      const store = new SiteCacheStore(redis, site());
      await new SnapshotLoad(store, mdc.snapshot, { kind: 'reload' }, 500).run();
      await redis.hset(
        store.keys.entities('eu.corp'),
        'user\u0000eve',
        JSON.stringify({ entity: entity('eu.corp', 'eve'), h: '0' }),
      );
      const resync = new Resync(store);
      let fixed: string[] = [];
      for (let i = 0; i < 3 && fixed.length === 0; i++) fixed = await resync.scrub(1000);
      expect(fixed).toEqual(['eu.corp']);
      expect((await store.domain('eu.corp'))?.scoped).toBe(false);
      expect(await store.entityCount('eu.corp')).toBe(0);
      // the manifest check loads it whole again
      const diff = await resync.compare({
        version: '100',
        root: '',
        domains: [
          { name: 'corp', count: 0, sum: '0' },
          { name: 'eu.corp', count: 0, sum: '0' },
        ],
      });
      expect(diff.load).toEqual(['eu.corp']);
      await new SnapshotLoad(store, mdc.snapshot, { kind: 'domains', domains: diff.load }, 500).run();
      await expectServedAsMdc(store, mdc, 'eu.corp');
    });

    it('scrubs past the first 512 names of a large tree', async () => {
      const names = Array.from({ length: 700 }, (_, i) => `d${String(i).padStart(4, '0')}`);
      const domains = [...names.map((n) => domain(n)), domain('zz')];
      const entities = Array.from({ length: 5 }, (_, i) => entity('zz', `z${i}`));
      const mdc = new FakeMdc(domains, entities, new Set(['zz']));
      const store = new SiteCacheStore(redis, site());
      await new SnapshotLoad(store, mdc.snapshot, { kind: 'reload' }, 500).run();
      const victim = (await store.entitiesOf('zz'))[0];
      await store.commit(
        store.plan().putEntity({ entity: { ...victim.entity, attributes: { hand: 1 } }, h: victim.h }),
        false,
      );
      const resync = new Resync(store);
      let found = false;
      for (let i = 0; i < 6 && !found; i++) found = (await resync.scrub(1000)).includes('zz');
      expect(found).toBe(true);
    });

    it('does not load a domain with a change still queued (a delete the site made after its push)', async () => {
      const store = new SiteCacheStore(redis, site());
      await store.commit(store.plan().markPending(['x'], ['shop'], 1), false);
      const diff = await new Resync(store).compare({
        version: '1',
        root: '',
        domains: [{ name: 'shop', count: 1, sum: '1' }],
      });
      expect(diff.load).toEqual([]);
    });

    it('gives a served domain whose digest was lost its digest back when it is loaded', async () => {
      const { domains, entities } = zone();
      const mdc = new FakeMdc(domains, entities, new Set(['corp']));
      const store = new SiteCacheStore(redis, site());
      await new SnapshotLoad(store, mdc.snapshot, { kind: 'reload' }, 500).run();
      await redis.hdel(store.keys.digests, 'corp');
      const diff = await new Resync(store).compare({
        version: '100',
        root: '',
        domains: [{ name: 'corp', count: 0, sum: '0' }],
      });
      await new SnapshotLoad(store, mdc.snapshot, { kind: 'domains', domains: diff.load }, 500).run();
      await expectServedAsMdc(store, mdc, 'corp');
    });

    it('drops a cache of the older key layout, keeping the queue, and stamps the layout', async () => {
      const store = new SiteCacheStore(redis, site());
      const k = store.keys;
      await redis.hset(k.meta, 'loaded', '1', 'cursor', '42', 'epoch', 'e-123456789', 'seq', '7');
      await redis.hset(`${k.prefix}entid`, 'some-id', 'corp\u0000user\u0000x');
      await redis.hset(k.entities('corp'), 'user\u0000x', '{}');
      await redis.rpush(k.queue, '{"seq":7}');
      expect(await store.ensureLayout()).toBe(true);
      expect(await redis.exists(`${k.prefix}entid`, k.entities('corp'))).toBe(0);
      expect(await redis.lrange(k.queue, 0, -1)).toEqual(['{"seq":7}']);
      expect(await store.meta()).toMatchObject({ loaded: false, cursor: '0', epoch: 'e-123456789', seq: 7 });
      expect(await store.ensureLayout()).toBe(false);
    });
  });
});
