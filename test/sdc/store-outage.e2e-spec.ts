import { TestCluster, waitFor } from '../harness/cluster';
import { AdminClient, Reply } from '../harness/http';
import { expectStoreUnavailable, QUICK_MS, timed } from '../harness/outage';
import { OwnRedis } from '../harness/own-servers';

/** A frozen Redis answers nothing: the site gives up on a command within its command timeout (~1.5 s). */
const FROZEN_MS = 4000;

/**
 * SPEC §5, §10, §12: a work site whose own Redis is stopped, then frozen (SIGSTOP), answers every
 * admin call with 503 `store_unavailable` quickly, is not ready, answers `POST /sync/run` within its
 * deadline; once Redis is back it is ready again, takes writes, and converges with the MDC. The
 * Redis is a server of this test's own (test/harness/own-servers.ts), never the shared one.
 */
describe('SDC whose own Redis goes away', () => {
  let redis: OwnRedis;
  let cluster: TestCluster;
  let site: AdminClient;
  let mdc: AdminClient;

  /** Every admin call a site answers from its store, as an admin would make them. */
  const storeCalls: Array<[string, () => Promise<Reply>]> = [
    ['GET a domain', () => site.get('/domains/acme')],
    ['GET the tree', () => site.get('/domains')],
    ['GET entities', () => site.get('/domains/acme/entities')],
    ['GET an entity', () => site.get('/domains/acme/entities/user/u0')],
    ['POST an entity', () => site.post('/domains/acme/entities', { kind: 'user', name: 'during' })],
    ['PATCH an entity', () => site.patch('/domains/acme/entities/user/u1', { attributes: { n: 1 } })],
    ['DELETE an entity', () => site.delete('/domains/acme/entities/user/u2')],
    ['POST a domain', () => site.post('/domains', { name: 'eu.acme', parent: 'acme' })],
    ['GET /sync/status', () => site.get('/sync/status')],
    ['GET /sync/rejections', () => site.get('/sync/rejections')],
  ];

  const ready = () => fetch(`${cluster.url('site-a')}/health/ready`).then((r) => r.status);

  /** Cycles until one succeeds with nothing queued (the MDC is up: any failure but the store's fails the test). */
  async function drain(): Promise<void> {
    await waitFor(async () => {
      const { lastCycle } = await cluster.sync('site-a');
      const { queue } = await cluster.status('site-a');
      return lastCycle.ok && queue.length === 0;
    }, 20_000);
  }

  /** The site's entities of acme and the MDC's agree, version for version (SPEC §8: MDC-authoritative). */
  async function expectConverged(): Promise<void> {
    const list = async (admin: AdminClient) => {
      const page = await admin.get('/domains/acme/entities?limit=1000');
      expect(page.status).toBe(200);
      return page.body.items.map((e: any) => ({
        name: e.name,
        version: e.version,
        attributes: e.attributes,
      }));
    };
    expect(await list(site)).toEqual(await list(mdc));
  }

  beforeAll(async () => {
    redis = await OwnRedis.start();
    cluster = await TestCluster.start('sdc-store-outage', {
      sites: ['master', 'site-a'],
      zones: [{ domain: 'acme', sites: ['site-a'] }],
      redisUrls: { 'site-a': redis.url },
      // cycles only when asked for (or after writes), so none is running when a test does not expect it
      sdcEnv: { SYNC_INTERVAL_MS: '60000' },
    });
    site = cluster.admin('site-a');
    mdc = cluster.admin(cluster.master);
    expect((await site.post('/domains', { name: 'acme' })).status).toBe(201);
    for (const name of ['u0', 'u1', 'u2'])
      expect((await site.post('/domains/acme/entities', { kind: 'user', name })).status).toBe(201);
    await drain();
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
    await redis?.destroy();
  });

  describe('stopped', () => {
    beforeAll(() => redis.stop());

    it.each(storeCalls)(
      'answers %s with 503 store_unavailable and Retry-After, at once',
      async (what, call) => {
        const { reply, ms } = await timed(call);
        expectStoreUnavailable(what, reply);
        expect(ms).toBeLessThan(QUICK_MS);
      },
    );

    it('is not ready (503, naming redis) but alive', async () => {
      const res = await fetch(`${cluster.url('site-a')}/health/ready`);
      const body = (await res.json()) as { message: string };
      expect(res.status).toBe(503);
      expect(body).toMatchObject({ statusCode: 503, code: 'store_unavailable' });
      expect(body.message).toContain('redis');
      expect((await fetch(`${cluster.url('site-a')}/health/live`)).status).toBe(200);
    });

    it('keeps serving /metrics (SPEC §10: an outage is when they are wanted)', async () => {
      const { reply, ms } = await timed(() =>
        fetch(`${cluster.url('site-a')}/metrics`).then(async (r) => ({
          status: r.status,
          headers: r.headers,
          body: await r.text(),
        })),
      );
      expect(reply.status).toBe(200);
      expect(reply.body).toContain('dd_sdc_queue_length');
      expect(ms).toBeLessThan(QUICK_MS);
    });

    it('answers POST /sync/run within its deadline: 200, the cycle could not run for store_unavailable', async () => {
      for (const query of ['?timeoutMs=5000', '']) {
        const { reply, ms } = await timed(() => site.post(`/sync/run${query}`, {}));
        expect({ query, status: reply.status }).toEqual({ query, status: 200 });
        expect(reply.body.lastCycle).toMatchObject({ ok: false, error: 'store_unavailable' });
        expect(ms).toBeLessThan(QUICK_MS);
      }
    });
  });

  describe('started again', () => {
    beforeAll(async () => {
      await redis.start();
      await waitFor(async () => (await ready()) === 200, 5000);
    });

    it('kept nothing of the writes it refused, takes writes again and converges with the MDC', async () => {
      expect((await site.get('/domains/acme/entities/user/during')).status).toBe(404);
      expect((await site.get('/domains/acme/entities/user/u2')).status).toBe(200);
      expect((await site.get('/domains/eu.acme')).status).toBe(404);
      expect((await site.post('/domains/acme/entities', { kind: 'user', name: 'after' })).status).toBe(201);
      await drain();
      await expectConverged();
      expect((await mdc.get('/domains/acme/entities/user/after')).status).toBe(200);
    });
  });

  describe('frozen (SIGSTOP)', () => {
    beforeAll(() => redis.freeze());
    afterAll(() => redis.thaw());

    it('answers reads, writes and /health/ready with 503 within a few seconds', async () => {
      const calls: Array<[string, () => Promise<Reply>]> = [
        ['GET an entity', () => site.get('/domains/acme/entities/user/u0')],
        ['POST an entity', () => site.post('/domains/acme/entities', { kind: 'user', name: 'frozen' })],
        ['GET /sync/status', () => site.get('/sync/status')],
      ];
      for (const [what, call] of calls) {
        const { reply, ms } = await timed(call);
        expectStoreUnavailable(what, reply);
        expect(ms).toBeLessThan(FROZEN_MS);
      }
      const { reply, ms } = await timed(() =>
        fetch(`${cluster.url('site-a')}/health/ready`).then(async (r) => ({
          status: r.status,
          headers: r.headers,
          body: await r.json(),
        })),
      );
      expect(reply.status).toBe(503);
      expect(ms).toBeLessThan(FROZEN_MS);
    });

    it('answers POST /sync/run within its deadline', async () => {
      const { reply, ms } = await timed(() => site.post('/sync/run?timeoutMs=2000', {}));
      expect(ms).toBeLessThan(FROZEN_MS);
      if (reply.status === 200)
        expect(reply.body.lastCycle).toMatchObject({ ok: false, error: 'store_unavailable' });
      else expect(reply).toMatchObject({ status: 202, body: { phase: expect.any(String) } });
    });
  });

  describe('thawed (SIGCONT)', () => {
    it('is ready again, takes writes, and the cache agrees with the MDC: nothing half-applied', async () => {
      await waitFor(async () => (await ready()) === 200, 5000);
      expect((await site.post('/domains/acme/entities', { kind: 'user', name: 'thawed' })).status).toBe(201);
      await drain();
      await expectConverged();
    });
  });

  describe('POST /sync/run and its deadline (SPEC §5)', () => {
    it('answers 202 with the progress of a cycle still running at the deadline, which goes on', async () => {
      // Settled: the cycles that writes and the change signal set off are over, so ours runs at once (a
      // cycle asked for behind a running one would answer `queued`) ...
      await drain();
      await new Promise((r) => setTimeout(r, 300));
      await cluster.sync('site-a');
      // ... and a frozen MDC holds it on its first call (the site gives up on that after 5 s).
      cluster.signal(cluster.master, 'SIGSTOP');
      try {
        const { reply, ms } = await timed(() => site.post('/sync/run?timeoutMs=1500', {}));
        expect({ status: reply.status, body: reply.body }).toEqual({
          status: 202,
          body: { phase: 'pull', pages: 0, objects: 0 },
        });
        expect(ms).toBeLessThan(QUICK_MS);
      } finally {
        cluster.signal(cluster.master, 'SIGCONT');
      }
      await drain();
    });

    it('refuses a timeoutMs that is not a whole number of milliseconds', async () => {
      for (const bad of ['abc', '0', '1.5', '-3', '600001']) {
        const reply = await site.post(`/sync/run?timeoutMs=${bad}`, {});
        expect({ bad, status: reply.status, code: reply.body.code }).toEqual({
          bad,
          status: 400,
          code: 'validation_failed',
        });
      }
    });
  });
});
