import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import type { JsonObject } from '@dd/directory';
import { ClusterFiles, freePort } from '../../../../test/harness/cluster-files';
import { withDb } from '../../../../test/harness/domaindb';
import { TestMdc } from '../../../../test/harness/mdc';
import { createTestRedisDb, TestRedisDb } from '../../../../test/harness/services';
import { SiteCacheStore } from '../cache/site-cache.store';
import { LocalWrites } from '../domains/local-writes';
import { MdcClient, MdcUnreachableError, SiteHttp } from '../remote';
import { FarSite, sendJson } from '../remote/testing';
import { Resync } from './resync';
import { SnapshotLoad } from './snapshot-load';
import { CycleProgress, MdcPort, PUSH_BATCH, REJECTIONS_KEPT, SyncCycle } from './sync-cycle';

/** The SDC's core without NestJS: cache + write path + cycle, against a real MDC and a real Redis. */
describe('SDC core against a real MDC and Redis', () => {
  let mdc: TestMdc;
  let db: TestRedisDb;
  let redis: Redis;
  let store: SiteCacheStore;
  let writes: LocalWrites;
  let cycle: SyncCycle;
  let client: MdcClient;

  beforeAll(async () => {
    const files = await ClusterFiles.create({ zones: [{ domain: 'acme', sites: ['site-a'] }] });
    mdc = await TestMdc.start('sdccore', files);
    db = await createTestRedisDb('sdccore');
    redis = new Redis(db.url);
    store = new SiteCacheStore(redis, 'site-a');
    writes = new LocalWrites(
      store,
      'site-a',
      () => 'master',
      () => 5,
    );
    const http = new SiteHttp({ siteId: 'site-a', privateKey: files.site('site-a').privateKey });
    client = new MdcClient(http, () => mdc.target);
    cycle = new SyncCycle(store, client, new Resync(store));
    await mdc.admin().post('/domains', { name: 'acme', settings: { plan: 'gold' } });
    await mdc.admin().post('/domains/acme/entities', { kind: 'user', name: 'alice', attributes: { a: 1 } });
    await mdc.admin().post('/domains', { name: 'globex' });
  });
  afterAll(async () => {
    redis.disconnect();
    await db.release();
    await mdc.stop();
  });

  /** A write path with room for 5000 queued changes. */
  const roomyWrites = () =>
    new LocalWrites(
      store,
      'site-a',
      () => 'master',
      () => 5000,
    );

  /** The real MDC, its pushes through `push`. */
  function pushingThrough(push: MdcPort['push']): MdcPort {
    return {
      push,
      pull: (req) => client.pull(req),
      manifest: (detail, buckets) => client.manifest(detail, buckets),
      snapshot: (req) => client.snapshot(req),
    };
  }

  it('loads its scope in its first cycle, and the tree of every domain', async () => {
    const report = await cycle.run();
    expect(report).toMatchObject({ ok: true, error: null });
    expect((await store.domain('acme'))?.domain.settings).toEqual({ plan: 'gold' });
    expect((await store.entity('acme', 'user', 'alice'))?.entity.attributes).toEqual({ a: 1 });
    expect(await store.domain('globex')).toMatchObject({ scoped: false, domain: { settings: {} } });
    expect((await store.meta()).loaded).toBe(true);
  });

  it('applies a local write at once, queues it, pushes it and converges to the MDC version', async () => {
    const { verdict, entry } = await writes.submit(
      {
        op: 'entity.create',
        id: randomUUID(),
        domain: 'acme',
        kind: 'user',
        name: 'bob',
        attributes: { b: 1 },
      },
      'ops',
    );
    expect(verdict.ok).toBe(true);
    expect(entry!.version).toMatch(/\+site-a\.1$/);
    expect((await store.entity('acme', 'user', 'bob'))?.entity.version).toBe(entry!.version);
    expect(await store.queueLength()).toBe(1);
    expect((await store.pendingIds([entry!.ids[0]])).size).toBe(1);

    const progress: CycleProgress[] = [];
    const report = await cycle.run((p) => progress.push(p));
    expect(report).toMatchObject({ ok: true, pushed: 1, rejected: 0 });
    // SPEC §5: what `POST /sync/run` shows of a cycle running past its deadline, step by step.
    expect(progress).toEqual([
      { phase: 'push', pages: 0, objects: 0 },
      { phase: 'push', pages: 1, objects: 1 },
      { phase: 'pull', pages: 1, objects: 1 },
      { phase: 'pull', pages: 2, objects: 1 + report.pulled },
      { phase: 'verify', pages: 2, objects: 1 + report.pulled },
      { phase: 'record', pages: 2, objects: 1 + report.pulled },
    ]);
    expect(await store.queueLength()).toBe(0);
    const atMdc = (await mdc.admin().get('/domains/acme/entities/user/bob')).body;
    expect((await store.entity('acme', 'user', 'bob'))?.entity).toEqual(atMdc);
  });

  it('refuses the write past the queue capacity with queue_full and changes nothing', async () => {
    for (let i = 0; i < 5; i++) {
      await writes.submit(
        { op: 'entity.create', id: randomUUID(), domain: 'acme', kind: 'cap', name: `c${i}`, attributes: {} },
        'ops',
      );
    }
    await expect(
      writes.submit(
        { op: 'entity.create', id: randomUUID(), domain: 'acme', kind: 'cap', name: 'c5', attributes: {} },
        'ops',
      ),
    ).rejects.toThrow(/queue holds 5/);
    expect(await store.entity('acme', 'cap', 'c5')).toBeUndefined();
    expect(await store.queueLength()).toBe(5);
    expect((await cycle.run()).pushed).toBe(5);
  });

  it('lists a change the MDC refuses, and the next resync rolls its local effect back', async () => {
    await mdc
      .admin()
      .post('/domains/acme/entities', { kind: 'user', name: 'carol', attributes: { from: 'mdc' } });
    // The site has not heard of carol yet: its own create is accepted locally...
    const { verdict } = await writes.submit(
      {
        op: 'entity.create',
        id: randomUUID(),
        domain: 'acme',
        kind: 'user',
        name: 'carol',
        attributes: { from: 'site' },
      },
      'ops',
    );
    expect(verdict.ok).toBe(true);
    const report = await cycle.run();
    expect(report).toMatchObject({ ok: true, rejected: 1 });
    const [rejection] = await store.rejections(10);
    expect(rejection).toMatchObject({
      reason: 'already_exists',
      change: { attributes: { from: 'site' } },
      winner: { attributes: { from: 'mdc' } },
    });
    expect((await store.entity('acme', 'user', 'carol'))?.entity.attributes).toEqual({ from: 'mdc' });
  });

  it('leaves the scrub to a full cycle: a signal’s cycle compares the root digest only', async () => {
    const raw = JSON.parse((await redis.hget(store.keys.domains, 'acme'))!);
    raw.domain.settings = { plan: 'tampered' };
    await redis.hset(store.keys.domains, 'acme', JSON.stringify(raw));
    expect(await cycle.run(undefined, 'root')).toMatchObject({ ok: true, repaired: 0 });
    expect((await store.domain('acme'))?.domain.settings).toEqual({ plan: 'tampered' });
    expect((await cycle.run(undefined, 'full')).repaired).toBeGreaterThan(0);
    expect((await store.domain('acme'))?.domain.settings).toEqual({ plan: 'gold' });
  });

  it('knows a signal it has pulled through already', async () => {
    const { cursor } = await store.meta();
    expect(await cycle.pulledThrough(cursor)).toBe(true);
    expect(await cycle.pulledThrough(String(BigInt(cursor) + 1n))).toBe(false);
  });

  it('repairs a cache key deleted or altered by hand in the next cycle', async () => {
    await redis.hdel(store.keys.entities('acme'), 'user\u0000alice');
    const raw = JSON.parse((await redis.hget(store.keys.domains, 'acme'))!);
    raw.domain.settings = { plan: 'tampered' };
    await redis.hset(store.keys.domains, 'acme', JSON.stringify(raw));
    const report = await cycle.run();
    expect(report.ok).toBe(true);
    expect(report.repaired).toBeGreaterThan(0);
    expect((await store.entity('acme', 'user', 'alice'))?.entity.attributes).toEqual({ a: 1 });
    expect((await store.domain('acme'))?.domain.settings).toEqual({ plan: 'gold' });
  });

  it('rebuilds its scope after its Redis lost its data, with a new epoch whose changes still apply', async () => {
    const before = (await store.meta()).epoch;
    await redis.flushdb();
    await cycle.run();
    const meta = await store.meta();
    expect(meta.epoch).not.toBe(before);
    expect((await store.entity('acme', 'user', 'alice'))?.entity.attributes).toEqual({ a: 1 });
    await writes.submit(
      {
        op: 'entity.create',
        id: randomUUID(),
        domain: 'acme',
        kind: 'user',
        name: 'after-flush',
        attributes: {},
      },
      'ops',
    );
    expect(await cycle.run()).toMatchObject({ ok: true, pushed: 1, rejected: 0 });
    expect((await mdc.admin().get('/domains/acme/entities/user/after-flush')).status).toBe(200);
  });

  it('lands a full reload with the changes still queued on top, at their provisional versions', async () => {
    const { entry } = await writes.submit(
      {
        op: 'entity.create',
        id: randomUUID(),
        domain: 'acme',
        kind: 'user',
        name: 'queued-over-reload',
        attributes: { q: 1 },
      },
      'ops',
    );
    // a full reload in pages of one entity: the queued change stays on top throughout
    await new SnapshotLoad(store, (req) => client.snapshot(req), { kind: 'reload' }, 1).run(async () => {
      expect((await store.entity('acme', 'user', 'queued-over-reload'))?.entity.attributes).toEqual({ q: 1 });
    });
    const after = await store.entity('acme', 'user', 'queued-over-reload');
    expect(after?.entity).toMatchObject({ attributes: { q: 1 }, version: entry!.version });
    expect((await store.entity('acme', 'user', 'alice'))?.entity.attributes).toEqual({ a: 1 });
    expect(await cycle.run()).toMatchObject({ ok: true, pushed: 1, repaired: 0 });
  });

  /** A cycle of site-a against another address for the MDC (one that is down, or that fails). */
  function cycleAgainst(url: string): SyncCycle {
    const http = new SiteHttp({ siteId: 'site-a', privateKey: mdc.files.site('site-a').privateKey });
    return new SyncCycle(store, new MdcClient(http, () => ({ id: 'master', url })), new Resync(store));
  }

  async function updateAlice(patch: JsonObject): Promise<void> {
    const alice = (await store.entity('acme', 'user', 'alice'))!.entity;
    await writes.submit(
      { op: 'entity.update', id: alice.id, domain: 'acme', kind: 'user', name: 'alice', patch },
      'ops',
    );
  }

  it('keeps a change made while the MDC is unreachable, pending, and reports mdc_unreachable', async () => {
    await updateAlice({ offline: true });
    expect(await cycleAgainst('http://127.0.0.1:9').run()).toMatchObject({
      ok: false,
      error: 'mdc_unreachable',
    });
    expect((await store.entity('acme', 'user', 'alice'))?.entity.attributes).toEqual({ a: 1, offline: true });
    expect(await store.queueLength()).toBe(1);
    expect(await cycle.run()).toMatchObject({ ok: true, pushed: 1 });
    expect((await mdc.admin().get('/domains/acme/entities/user/alice')).body.attributes).toEqual({
      a: 1,
      offline: true,
    });
  });

  it('reports an MDC that fails the push with a 500 as mdc_failed, not unreachable, and keeps the change queued', async () => {
    const failing = await new FarSite({}, (_call, res) =>
      sendJson(res, 500, { statusCode: 500, code: 'internal_error', message: 'error id 42' }),
    ).listen();
    try {
      await updateAlice({ failed: true });
      const report = await cycleAgainst(failing.url).run();
      expect(report).toMatchObject({ ok: false, pushed: 0 });
      expect(report.error).toMatch(/^mdc_failed: the MDC answered 500 to \/sync\/v1\/push: .*internal_error/);
      expect(await store.queueLength()).toBe(1);
    } finally {
      await failing.close();
    }
    expect(await cycle.run()).toMatchObject({ ok: true, pushed: 1 });
    expect((await mdc.admin().get('/domains/acme/entities/user/alice')).body.attributes).toMatchObject({
      failed: true,
    });
  });

  it('drains a queue longer than a batch in seq order, each batch off the queue in one step, exactly once across a crash after the MDC applied', async () => {
    const roomy = roomyWrites();
    const names = Array.from({ length: PUSH_BATCH + 200 }, (_, i) => `q${i}`);
    const ids: string[] = [];
    for (let i = 0; i < names.length; i += 100) {
      const group = await Promise.all(
        names
          .slice(i, i + 100)
          .map((name) =>
            roomy.submit(
              { op: 'entity.create', id: randomUUID(), domain: 'acme', kind: 'drain', name, attributes: {} },
              'ops',
            ),
          ),
      );
      for (const { entry } of group) ids.push(...entry!.ids);
    }
    expect(await store.queueLength()).toBe(names.length);
    // The MDC applies the second batch, and its answer is lost (the site dies, the link drops).
    let pushes = 0;
    const lossy = pushingThrough(async (req) => {
      const answer = await client.push(req);
      if (++pushes === 2) throw new MdcUnreachableError('the answer was lost');
      return answer;
    });
    const commits = jest.spyOn(store, 'commit');
    try {
      expect(await new SyncCycle(store, lossy, new Resync(store)).run()).toMatchObject({
        ok: false,
        error: 'mdc_unreachable',
        pushed: PUSH_BATCH,
      });
      const trims = commits.mock.calls.flatMap(([plan]) => plan.ops.filter((op) => op[0] === 'ackmove'));
      expect(trims.map((op) => op.length - 8)).toEqual([PUSH_BATCH]);
    } finally {
      commits.mockRestore();
    }
    expect(await store.queueLength()).toBe(200);
    // Sent again: answered with the first verdicts, applied once, and off the queue.
    expect(await cycle.run()).toMatchObject({ ok: true, pushed: 200, rejected: 0 });
    expect(await store.queueLength()).toBe(0);
    expect((await store.pendingIds(ids)).size).toBe(0);
    const applied = await withDb(mdc.db.url, async (pg) => {
      const { rows } = await pg.query(
        `SELECT change->>'name' AS name, seq FROM audit_log WHERE change->>'kind' = 'drain' ORDER BY version`,
      );
      return rows as Array<{ name: string; seq: string }>;
    });
    expect(applied.map((a) => a.name)).toEqual(names);
    expect(new Set(applied.map((a) => a.seq)).size).toBe(names.length);
  });

  it('pushes what was queued when it began and then pulls, however steadily writes arrive meanwhile', async () => {
    const steady = roomyWrites();
    const write = (name: string) =>
      steady.submit(
        { op: 'entity.create', id: randomUUID(), domain: 'acme', kind: 'steady', name, attributes: {} },
        'ops',
      );
    await write('s0');
    await mdc.admin().post('/domains/acme/entities', { kind: 'elsewhere', name: 'e1', attributes: {} });
    // A local write lands during every push (a busy site): each would make the queue non-empty again.
    let pushes = 0;
    const busy = pushingThrough(async (req) => {
      const answer = await client.push(req);
      if (++pushes <= 20) await write(`s${pushes}`);
      return answer;
    });
    const report = await new SyncCycle(store, busy, new Resync(store)).run();
    expect(report).toMatchObject({ ok: true, pushed: 1 });
    expect(pushes).toBe(1);
    // It got to its resync: the MDC's write is here; the write made meanwhile waits, queued and served.
    expect(await store.entity('acme', 'elsewhere', 'e1')).toBeTruthy();
    expect(await store.queueLength()).toBe(1);
    expect(await store.entity('acme', 'steady', 's1')).toBeTruthy();
    expect(await cycle.run()).toMatchObject({ ok: true, pushed: 1 });
    expect(await store.queueLength()).toBe(0);
  });

  it('goes on under a new epoch when the MDC holds seqs its Redis never sent (SPEC §11: a failover lost them)', async () => {
    const user = (name: string) =>
      writes.submit(
        { op: 'entity.create', id: randomUUID(), domain: 'acme', kind: 'user', name, attributes: {} },
        'ops',
      );
    expect(await cycle.run()).toMatchObject({ ok: true });
    const before = await store.meta();
    const { entry } = await user('pushed-then-lost');
    expect(await cycle.run()).toMatchObject({ ok: true, pushed: 1 });
    // The Redis a failover promoted had not received that write's seq, its push nor its dequeue (its
    // cache and cursor are left as they are: the e2e test test/sdc/redis-failover shows the pull).
    const rewind = store.plan().setMeta('seq', String(before.seq));
    expect(await store.commit(rewind, false)).toBe('ok');
    const again = await user('after-failover');
    expect(again.entry!.seq).toBe(entry!.seq); // the seq the MDC has for the lost write
    // and one more, whose seq is the MDC's next: it must not be applied under the old epoch as well
    await user('after-failover-2');

    expect(await cycle.run()).toMatchObject({ ok: true, pushed: 2, rejected: 0 });
    const after = await store.meta();
    expect(after.epoch).not.toBe(before.epoch);
    expect(after).toMatchObject({ seq: 2 });
    expect(await store.queueLength()).toBe(0);
    const creates = await withDb(mdc.db.url, async (pg) => {
      const { rows } = await pg.query(
        `SELECT change->>'name' AS name, count(*)::int AS n FROM audit_log
         WHERE change->>'name' LIKE 'after-failover%' GROUP BY 1 ORDER BY 1`,
      );
      return rows;
    });
    expect(creates).toEqual([
      { name: 'after-failover', n: 1 },
      { name: 'after-failover-2', n: 1 },
    ]);
    for (const name of ['pushed-then-lost', 'after-failover', 'after-failover-2'])
      expect((await mdc.admin().get(`/domains/acme/entities/user/${name}`)).status).toBe(200);
  });

  it('reports store_unavailable, without throwing, when its own Redis cannot be reached', async () => {
    // Connected as the site connects (no offline queue, no retries), to a port nothing listens on.
    const gone = new Redis(`redis://127.0.0.1:${await freePort()}`, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    try {
      const cut = new SiteCacheStore(gone, 'site-a');
      const report = await new SyncCycle(cut, client, new Resync(cut)).run();
      expect(report).toMatchObject({ ok: false, error: 'store_unavailable' });
    } finally {
      gone.disconnect();
    }
  });
  it('keeps what the MDC acknowledged — the last ackRetentionMs of it, at most `max` — in seq order (SPEC §11)', async () => {
    const own = new SiteCacheStore(redis, 'site-keep');
    const entries = [1, 2, 3, 4, 5].map((seq) => ({
      seq,
      change: { op: 'domain.delete' as const, id: randomUUID(), name: `d${seq}` },
      actor: 'ops',
      at: new Date(0).toISOString(),
      ids: [],
      domains: [],
      version: `0+site-keep.${seq}`,
    }));
    await redis.rpush(own.keys.queue, ...entries.map((e) => JSON.stringify(e)));
    const decide = (
      decided: Array<(typeof entries)[number] & { refused?: 'already_exists' }>,
      now: number,
      max = 10,
    ) => own.commit(own.plan().dequeueDecided(decided, { now, retentionMs: 500, max }), false);

    await decide([entries[0], { ...entries[1], refused: 'already_exists' }], 1000);
    expect(await own.queueLength()).toBe(3);
    // the second was refused at first: kept with its code, for a re-push to say so
    expect(await own.ackedAfter(0, 10)).toEqual([entries[0], { ...entries[1], refused: 'already_exists' }]);
    // the same two decided again (a cycle whose lock lapsed): nothing queued after them is taken
    await decide(entries.slice(0, 2), 1000);
    expect(await own.queueLength()).toBe(3);
    expect(await own.lastAcked()).toBe(2);
    // acknowledged 600 ms later: the first two are older than the retention
    await decide(entries.slice(2, 3), 1600);
    expect(await own.ackedAfter(0, 10)).toEqual(entries.slice(2, 3));
    expect(await redis.zcard(own.keys.ackRefused)).toBe(0);
    // at most `max`: the oldest go first
    await decide(entries.slice(3), 1700, 2);
    expect(await own.queueLength()).toBe(0);
    expect(await own.ackedAfter(0, 10)).toEqual(entries.slice(3));
    expect(await own.ackedAfter(4, 10)).toEqual(entries.slice(4));
    // a byte budget still takes one
    expect(await own.ackedAfter(0, 10, 1)).toEqual(entries.slice(3, 4));
    expect(await own.lastAcked()).toBe(5);
    expect((await own.pullState()).oldestAck).toBe(1600); // the cap drops entries, not their batch times
    // an idle site trims too; then a new epoch (its Redis lost its queue state) drops what is kept
    await own.commit(own.plan().trimAcked({ now: 2300, retentionMs: 500, max: 10 }), false);
    expect(await own.lastAcked()).toBe(0);
    expect((await own.pullState()).oldestAck).toBeNull();
    await decide([], 0);
    await redis.rpush(own.keys.queue, JSON.stringify(entries[0]));
    await decide(entries.slice(0, 1), 3000);
    expect(await own.lastAcked()).toBe(1);
    expect(await own.ensureEpoch('fresh-epoch')).toEqual({ epoch: 'fresh-epoch', fresh: true });
    expect(await own.lastAcked()).toBe(0);
  });
  it('pushes again what DomainDB lost, and a change refused at first stays refused (SPEC §11)', async () => {
    await cycle.run();
    const submit = (name: string) =>
      writes.submit(
        { op: 'entity.create', id: randomUUID(), domain: 'acme', kind: 'user', name, attributes: {} },
        'ops',
      );
    // the MDC has `taken`; the site does not know yet, and its create of the name is refused
    expect((await mdc.admin().post('/domains/acme/entities', { kind: 'user', name: 'taken' })).status).toBe(
      201,
    );
    expect((await submit('taken')).verdict.ok).toBe(true);
    expect((await submit('kept')).verdict.ok).toBe(true);
    expect(await cycle.run()).toMatchObject({ ok: true, pushed: 1, rejected: 1 });
    const { seq } = (await store.rejections(1))[0];
    // A failover lost both changes, the MDC's `taken` and the verdicts of seq and seq + 1.
    await withDb(mdc.db.url, async (pg) => {
      await pg.query(`DELETE FROM entities WHERE domain = 'acme' AND name IN ('taken', 'kept')`);
      await pg.query(`DELETE FROM push_verdicts WHERE site = 'site-a' AND seq >= $1`, [seq]);
      await pg.query(`UPDATE site_epochs SET last_seq = $1 WHERE site = 'site-a'`, [seq - 1]);
    });
    const rejections = (await store.rejections(REJECTIONS_KEPT)).length;
    // the queue is empty: the pull says what DomainDB has; the site pushes both again
    expect(await cycle.run()).toMatchObject({ ok: true, pushed: 1, rejected: 0 });
    expect((await mdc.admin().get('/domains/acme/entities/user/kept')).status).toBe(200);
    // refused again with its first code, never applied, and not listed twice at the site
    expect((await mdc.admin().get('/domains/acme/entities/user/taken')).status).toBe(404);
    expect((await store.rejections(REJECTIONS_KEPT)).length).toBe(rejections);
    const ledger = await withDb(mdc.db.url, async (pg) => {
      const { rows } = await pg.query(
        `SELECT seq::int, verdict->>'status' AS status, verdict->>'code' AS code FROM push_verdicts
         WHERE site = 'site-a' AND seq >= $1 ORDER BY seq`,
        [seq],
      );
      return rows;
    });
    expect(ledger).toEqual([
      { seq, status: 'rejected', code: 'already_exists' },
      { seq: seq + 1, status: 'applied', code: null },
    ]);
  });
  /** Creates these entities at the site (queued, not pushed). */
  async function submitCreates(...names: string[]): Promise<void> {
    for (const name of names)
      expect(
        (
          await writes.submit(
            { op: 'entity.create', id: randomUUID(), domain: 'acme', kind: 'user', name, attributes: {} },
            'ops',
          )
        ).verdict.ok,
      ).toBe(true);
  }

  /** Nothing acknowledged is kept any more (the retention passed). */
  const forgetAcknowledged = () =>
    store.commit(store.plan().trimAcked({ now: Date.now(), retentionMs: 0, max: 0 }), false);

  /** DomainDB goes back to before seq `after + 1` of site-a's epoch: those changes' entities and verdicts gone. */
  async function loseAfter(after: number, entities: string[]): Promise<void> {
    await withDb(mdc.db.url, async (pg) => {
      await pg.query(`DELETE FROM entities WHERE domain = 'acme' AND name = ANY($1)`, [entities]);
      await pg.query(`DELETE FROM push_verdicts WHERE site = 'site-a' AND seq > $1`, [after]);
      await pg.query(`UPDATE site_epochs SET last_seq = $1 WHERE site = 'site-a'`, [after]);
    });
  }

  it('a lost range it no longer keeps: the rest goes on under a new epoch, the cycle names the loss, the site converges (SPEC §11)', async () => {
    await cycle.run();
    await submitCreates('gone-1', 'gone-2');
    expect(await cycle.run()).toMatchObject({ ok: true, pushed: 2 });
    const { meta, ackedThrough } = await store.pullState();
    const lastAcked = await store.lastAcked();
    // the queue is empty: everything queued was decided
    expect(ackedThrough).toBe(meta.seq);
    expect(lastAcked).toBe(meta.seq);
    // only the newest is kept; DomainDB lost both
    await store.commit(store.plan().trimAcked({ now: Date.now(), retentionMs: 3_600_000, max: 1 }), false);
    await loseAfter(lastAcked - 2, ['gone-1', 'gone-2']);
    await mdc.admin().post('/domains/acme/entities', { kind: 'user', name: 'meanwhile', attributes: {} });
    const report = await cycle.run();
    expect(report).toMatchObject({ ok: false, pushed: 1 });
    expect(report.error).toMatch(
      new RegExp(
        `^changes_lost: DomainDB lost seqs ${lastAcked - 1} to ${lastAcked - 1} of epoch ${meta.epoch}, .*the 1 acknowledged after them that it kept are queued again under epoch `,
      ),
    );
    // the kept one is back at the MDC, under the new epoch (the one not kept leaves the site with the
    // manifest of a real failover; this DomainDB's digests still count it)
    const now = await store.meta();
    expect(now).toMatchObject({ seq: 1 });
    expect(await store.ackedThrough()).toBe(1);
    expect(now.epoch).not.toBe(meta.epoch);
    expect((await mdc.admin().get('/domains/acme/entities/user/gone-2')).status).toBe(200);
    expect(await store.entity('acme', 'user', 'gone-2')).toBeTruthy();
    // carried into the queue, pending again, and pushed: nothing is left counted as pending
    expect(await store.queueLength()).toBe(0);
    expect(await redis.hlen(store.keys.pendingObjects)).toBe(0);
    expect(await redis.hlen(store.keys.pendingDomains)).toBe(0);
    expect(await store.entity('acme', 'user', 'meanwhile')).toBeTruthy();
    expect(JSON.parse((await store.status()).lostChanges)).toEqual({
      epoch: meta.epoch,
      fromSeq: lastAcked - 1,
      toSeq: lastAcked - 1,
      requeued: 1,
      newEpoch: now.epoch,
      at: expect.any(String),
    });
    // the next cycle is a cycle like any other
    expect(await cycle.run()).toMatchObject({ ok: true, error: null });
  });

  it('a lost range wholly trimmed, with writes queued behind it: noticed, and the queue is not stuck (SPEC §11)', async () => {
    await cycle.run();
    await submitCreates('old-1', 'old-2');
    expect(await cycle.run()).toMatchObject({ ok: true, pushed: 2 });
    const { meta, ackedThrough } = await store.pullState();
    // nothing kept any more (the retention passed); DomainDB lost both
    await forgetAcknowledged();
    expect(await store.lastAcked()).toBe(0);
    await loseAfter(ackedThrough - 2, ['old-1', 'old-2']);
    await submitCreates('after-1', 'after-2');
    // the push meets the hole as a gap: the queue goes on under a new epoch, from seq 1
    const report = await cycle.run();
    expect(report).toMatchObject({ ok: false, pushed: 2 });
    expect(report.error).toContain(
      `changes_lost: DomainDB lost seqs ${ackedThrough - 1} to ${ackedThrough} of epoch ${meta.epoch}`,
    );
    expect(report.error).toContain('the 0 acknowledged after them');
    for (const name of ['after-1', 'after-2'])
      expect((await mdc.admin().get(`/domains/acme/entities/user/${name}`)).status).toBe(200);
    expect(await store.queueLength()).toBe(0);
    expect(await redis.hlen(store.keys.pendingObjects)).toBe(0);
    expect(await store.meta()).toMatchObject({ seq: 2 });
    expect(await store.ackedThrough()).toBe(2);
    expect(await cycle.run()).toMatchObject({ ok: true, error: null });
    // and with an empty queue, the pull notices it (the first page's lastSeq)
    await loseAfter(0, ['after-1', 'after-2']);
    await forgetAcknowledged();
    const quiet = await cycle.run();
    expect(quiet).toMatchObject({ ok: false, pushed: 0 });
    expect(quiet.error).toContain('changes_lost: DomainDB lost seqs 1 to 2 of epoch');
    expect(await cycle.run()).toMatchObject({ ok: true, error: null });
  });

  it('a lost range no longer kept: said also when what follows fails, and nothing pushed under the new epoch before the Redis replicas asked for have it (SPEC §11)', async () => {
    await cycle.run();
    await submitCreates('w-1', 'w-2');
    expect(await cycle.run()).toMatchObject({ ok: true, pushed: 2 });
    const { meta, ackedThrough } = await store.pullState();
    await forgetAcknowledged();
    await loseAfter(ackedThrough - 2, ['w-1', 'w-2']);
    await submitCreates('w-3');
    // one Redis replica asked for, none there: the renumbered queue is not pushed under the new epoch
    const durable = new SyncCycle(store, client, new Resync(store), undefined, undefined, () => ({
      replicas: 1,
      timeoutMs: 100,
    }));
    const held = await durable.run();
    expect(held).toMatchObject({ ok: false, pushed: 0 });
    expect(held.error).toMatch(
      /^changes_lost: DomainDB lost seqs .*; then: the new epoch \S+ reached 0 of the 1 Redis replicas cluster.redisWaitReplicas asks for in time: nothing pushed under it yet$/,
    );
    const renumbered = await store.meta();
    expect(renumbered.epoch).not.toBe(meta.epoch);
    expect(await store.queueLength()).toBe(1);
    expect((await mdc.admin().get('/domains/acme/entities/user/w-3')).status).toBe(404);
    // the MDC unreachable right after the loss is found: the loss is still the cycle's error
    // the MDC answers the push that finds the hole, and is cut off right after
    let pushes = 0;
    const unreachable = pushingThrough(async (req) => {
      if (pushes++ === 0) return client.push(req);
      throw new MdcUnreachableError('cut');
    });
    // (the held one goes now, under the new epoch; then DomainDB loses it)
    expect(await cycle.run()).toMatchObject({ ok: true, pushed: 1 });
    await loseAfter(0, ['w-3']);
    await forgetAcknowledged();
    await submitCreates('w-4');
    const cut = await new SyncCycle(store, unreachable, new Resync(store)).run();
    expect(cut.ok).toBe(false);
    expect(cut.error).toMatch(/^changes_lost: DomainDB lost seqs 1 to 1 of epoch .*; then: mdc_unreachable$/);
    expect(await cycle.run()).toMatchObject({ ok: true, error: null, pushed: 1 });
    expect((await mdc.admin().get('/domains/acme/entities/user/w-4')).status).toBe(200);
  });
});
