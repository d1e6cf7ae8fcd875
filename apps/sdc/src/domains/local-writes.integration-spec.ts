import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import type { Domain, Write } from '@dd/directory';
import { QueueFullError, StoreUnavailableError } from '@dd/admin-api';
import { createTestRedisDb, TestRedisDb } from '../../../../test/harness/services';
import { hashHex } from '../cache/cache-plan';
import { SiteCacheStore } from '../cache/site-cache.store';
import { REDIS_COMMAND_TIMEOUT_MS } from '../cache/site-redis';
import { LocalWrites, WriteDurability } from './local-writes';

const T0 = '2026-01-01T00:00:00.000Z';

function domain(name: string): Domain {
  return { id: `d-${name}`, name, parent: null, settings: {}, version: '5', createdAt: T0, updatedAt: T0 };
}

function all(ws: Write[]) {
  return ws.map((write) => ({ write, actor: 'ops' }));
}

function create(name: string, kind = 'user', dom = 'acme'): Write {
  return { op: 'entity.create', id: randomUUID(), domain: dom, kind, name, attributes: {} };
}

/** SPEC §6 group commit at a site, on a real Redis: what arrives together is decided and committed together. */
describe('LocalWrites: group commit (SPEC §6)', () => {
  let db: TestRedisDb;
  let redis: Redis;
  let store: SiteCacheStore;
  let capacity = 10_000;
  let groups: number[];
  let writes: LocalWrites;

  beforeAll(async () => {
    db = await createTestRedisDb('localwrites');
    redis = new Redis(db.url);
  });
  afterAll(async () => {
    redis.disconnect();
    await db.release();
  });
  beforeEach(async () => {
    await redis.flushdb();
    store = new SiteCacheStore(redis, 'site-a');
    await store.ensureEpoch('epoch-1');
    const plan = store.plan();
    plan.putDomain({ domain: domain('acme'), scoped: true, h: hashHex(domain('acme')) });
    plan.putDomain({ domain: domain('globex'), scoped: false, h: '' }); // a tree entry: not served here
    expect(await store.commit(plan, false)).toBe('ok');
    capacity = 10_000;
    groups = [];
    writes = new LocalWrites(
      store,
      'site-a',
      () => 'master',
      () => capacity,
      { onGroup: (n) => groups.push(n) },
    );
  });

  it('commits writes that arrive together in one step, each with its own verdict and the next seqs', async () => {
    const gen = (await store.meta()).gen;
    const results = await writes.submitAll(all([create('a'), create('b'), create('a'), create('c')]));
    expect(groups).toEqual([4]);
    expect(results.map((r) => (r.verdict?.ok ? r.entry!.seq : r.verdict?.code))).toEqual([
      1,
      2,
      'already_exists',
      3,
    ]);
    expect(results[0].entry?.version).toBe('0+site-a.1');
    expect(Number((await store.meta()).gen)).toBe(Number(gen) + 1); // one atomic step
    expect((await store.queueAll()).map((e) => e.seq)).toEqual([1, 2, 3]);
    expect((await store.meta()).seq).toBe(3);
    expect((await store.entity('acme', 'user', 'b'))?.entity.version).toBe('0+site-a.2');
  });

  it('groups what arrives while a step is in flight into the next step', async () => {
    const first = writes.submit(create('x0'), 'ops');
    await new Promise((r) => setImmediate(r)); // x0's group is in flight
    const later = Array.from({ length: 50 }, (_, i) => writes.submit(create(`x${i + 1}`), 'ops'));
    await Promise.all([first, ...later]);
    expect(groups).toEqual([1, 50]);
    expect(await store.queueLength()).toBe(51);
  });

  it('takes what fits in the queue and refuses the rest of the group, which changes nothing', async () => {
    capacity = 5;
    await writes.submitAll(all([create('q0'), create('q1'), create('q2')]));
    const results = await writes.submitAll(
      all([
        create('q3'),
        { op: 'entity.update', domain: 'acme', kind: 'user', name: 'nope', patch: {} },
        create('q4'),
        create('q5'),
        create('q6'),
      ]),
    );
    expect(results.map((r) => (r.queueFull ? 'full' : r.verdict.ok ? r.entry!.seq : r.verdict.code))).toEqual(
      [4, 'entity_not_found', 5, 'full', 'full'],
    );
    expect(await store.queueLength()).toBe(5);
    expect(await store.entity('acme', 'user', 'q5')).toBeUndefined();
    await expect(writes.submit(create('q7'), 'ops')).rejects.toBeInstanceOf(QueueFullError);
  });

  it('finds no domain it holds only as a tree entry (not served here, or loading)', async () => {
    const [r] = await writes.submitAll(all([create('g', 'user', 'globex')]));
    expect(r.verdict).toMatchObject({ ok: false, code: 'domain_not_found' });
    expect(await store.queueLength()).toBe(0);
  });

  it('reads a push window bounded by bytes, always at least one entry', async () => {
    await writes.submitAll(all([create('p0'), create('p1'), create('p2')]));
    const one = Buffer.byteLength(JSON.stringify((await store.queueHead(1))[0]));
    expect((await store.queueWindow(0, 10, 1)).entries).toHaveLength(1);
    expect((await store.queueWindow(0, 10, one * 2 + 10)).entries).toHaveLength(2);
    expect(await store.queueWindow(1, 10)).toMatchObject({ remaining: 2 });
  });

  it('keeps seqs contiguous when two replicas write to one site at once', async () => {
    const replica = new LocalWrites(
      new SiteCacheStore(redis, 'site-a'),
      'site-a',
      () => 'master',
      () => capacity,
    );
    const all = await Promise.all(
      Array.from({ length: 100 }, (_, i) => (i % 2 ? replica : writes).submit(create(`r${i % 50}`), 'ops')),
    );
    const accepted = all.filter((r) => r.verdict.ok);
    expect(accepted).toHaveLength(50); // each name twice: one create wins
    expect(all.filter((r) => !r.verdict.ok).map((r) => r.verdict.ok || r.verdict.code)).toEqual(
      Array(50).fill('already_exists'),
    );
    expect(accepted.map((r) => r.entry!.seq).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    expect((await store.queueAll()).map((e) => e.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });

  describe('waiting for Redis replicas (SPEC §11 cluster.redisWaitReplicas)', () => {
    let durability: WriteDurability;
    let unconfirmed: number[];
    let durable: LocalWrites;

    beforeEach(() => {
      durability = { replicas: 1, timeoutMs: 100 };
      unconfirmed = [];
      durable = new LocalWrites(
        store,
        'site-a',
        () => 'master',
        () => capacity,
        {
          onGroup: (n) => groups.push(n),
          durability: () => durability,
          onUnconfirmed: (n) => unconfirmed.push(n),
        },
      );
    });

    it('waits once per group and, short of the replicas in time, keeps the writes applied and queued', async () => {
      const wait = jest.spyOn(store, 'confirmReplicas');
      const results = await durable.submitAll(all([create('w0'), create('w1'), create('w0'), create('w2')]));
      expect(groups).toEqual([4]);
      expect(wait.mock.calls).toEqual([[1, 100]]); // this Redis has no replica: WAIT answers 0
      expect(results.map((r) => r.unconfirmed?.reached ?? r.verdict?.ok)).toEqual([0, 0, false, 0]);
      expect(unconfirmed).toEqual([3]);
      expect((await store.queueAll()).map((e) => e.seq)).toEqual([1, 2, 3]);
      expect(await store.entity('acme', 'user', 'w2')).toBeDefined();
      await expect(durable.submit(create('w3'), 'ops')).rejects.toBeInstanceOf(StoreUnavailableError);
      expect(await store.queueLength()).toBe(4);
    });

    it('sends no WAIT for a group the rules refused whole, nor when no replica is asked for', async () => {
      const wait = jest.spyOn(store, 'confirmReplicas');
      await durable.submitAll(
        all([{ op: 'entity.update', domain: 'acme', kind: 'user', name: 'no', patch: {} }]),
      );
      durability = { replicas: 0, timeoutMs: 100 };
      const [r] = await durable.submitAll(all([create('z')]));
      expect(r.entry?.seq).toBe(1);
      expect(wait).not.toHaveBeenCalled();
      expect(unconfirmed).toEqual([]);
    });

    it("gives WAIT a command timeout of its own, past the client's", async () => {
      const client = new Redis(db.url, { commandTimeout: 200 });
      try {
        const started = Date.now();
        expect(await new SiteCacheStore(client, 'site-a').confirmReplicas(1, 400)).toBe(0);
        expect(Date.now() - started).toBeGreaterThanOrEqual(390);
      } finally {
        client.disconnect();
      }
      expect(REDIS_COMMAND_TIMEOUT_MS).toBeGreaterThan(1000); // the default redisWaitTimeoutMs
    });
  });
});
