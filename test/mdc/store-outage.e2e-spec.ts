import { TestCluster, waitFor } from '../harness/cluster';
import { withDb } from '../harness/domaindb';
import { AdminClient, Reply, SiteCaller } from '../harness/http';
import { expectStoreUnavailable, QUICK_MS, timed } from '../harness/outage';
import { OwnPostgres } from '../harness/own-servers';
import { SseReader } from '../harness/sse';

/** Writes a site queues while DomainDB is away. */
const QUEUED = 20;
const SIGNAL = '/sync/v1/signal';

/**
 * SPEC §5, §7, §8, §10: an MDC whose DomainDB (a PostgreSQL of this test's own) is stopped answers its
 * admin calls and the sites' signed calls with 503 `store_unavailable` and is not ready; a site keeps
 * serving its reads and queues its writes meanwhile (the MDC is "unreachable" to it). Once PostgreSQL is
 * back the MDC is ready again, the site drains its queue by itself — each change applied exactly
 * once — and converges, and the change signal is listening again.
 */
describe('MDC whose own PostgreSQL goes away', () => {
  let pg: OwnPostgres;
  let cluster: TestCluster;
  let mdc: AdminClient;
  let site: AdminClient;
  let signed: SiteCaller;
  /** a site's change signal, open across the outages */
  let stream: SseReader;

  const ready = (siteId: string) => fetch(`${cluster.url(siteId)}/health/ready`).then((r) => r.status);

  /** The site's entities of acme and the MDC's agree, version for version (SPEC §8: MDC-authoritative). */
  async function entities(admin: AdminClient): Promise<Array<{ name: string; version: string }>> {
    const page = await admin.get('/domains/acme/entities?limit=1000');
    expect(page.status).toBe(200);
    return page.body.items.map((e: any) => ({ name: e.name, version: e.version }));
  }

  beforeAll(async () => {
    pg = await OwnPostgres.start();
    cluster = await TestCluster.start('mdc-store-outage', {
      sites: ['master', 'site-a'],
      zones: [{ domain: 'acme', sites: ['site-a'] }],
      databaseUrl: await pg.createDatabase('domaindb'),
      // No periodic cycle to lean on: after the outage the site must drain on its own retries and the signal.
      sdcEnv: { SYNC_INTERVAL_MS: '600000' },
    });
    mdc = cluster.admin(cluster.master);
    site = cluster.admin('site-a');
    signed = cluster.signedCaller('site-a');
    expect((await site.post('/domains', { name: 'acme' })).status).toBe(201);
    expect((await site.post('/domains/acme/entities', { kind: 'user', name: 'before' })).status).toBe(201);
    expect((await mdc.post('/domains', { name: 'beta' })).status).toBe(201);
    expect((await cluster.sync('site-a')).lastCycle).toMatchObject({ ok: true });
    stream = await SseReader.open(
      `${cluster.url(cluster.master)}${SIGNAL}`,
      signed.headersFor('GET', SIGNAL, undefined),
    );
    expect(await stream.next(0, 2000)).toEqual({ version: expect.any(String) });
  }, 60_000);

  afterAll(async () => {
    stream?.close();
    await cluster?.stop();
    await pg?.destroy();
  });

  describe('stopped', () => {
    beforeAll(() => pg.stop());

    it.each<[string, () => Promise<Reply>]>([
      ['GET the tree', () => mdc.get('/domains')],
      ['GET a domain', () => mdc.get('/domains/beta')],
      ['GET entities', () => mdc.get('/domains/acme/entities')],
      ['POST a domain', () => mdc.post('/domains', { name: 'gamma' })],
      ['PATCH a domain', () => mdc.patch('/domains/beta', { settings: { a: 1 } })],
      ['POST an entity', () => mdc.post('/domains/beta/entities', { kind: 'user', name: 'x' })],
      ['GET /cluster/status', () => mdc.get('/cluster/status')],
      ['GET /audit', () => mdc.get('/audit')],
    ])(
      'answers the admin call %s with 503 store_unavailable and Retry-After, at once',
      async (what, call) => {
        const { reply, ms } = await timed(call);
        expectStoreUnavailable(what, reply);
        expect(ms).toBeLessThan(QUICK_MS);
      },
    );

    it.each<[string, string, unknown]>([
      ['pull', '/sync/v1/pull', { cursor: '0' }],
      ['push', '/sync/v1/push', { epoch: 'e-outage', changes: [] }],
      ['manifest', '/sync/v1/manifest', { detail: true }],
      ['snapshot', '/sync/v1/snapshot', {}],
    ])('answers the signed %s with 503: to a site, an unreachable MDC', async (what, path, body) => {
      const { reply, ms } = await timed(() => signed.call('POST', path, body));
      expectStoreUnavailable(what, reply);
      expect(ms).toBeLessThan(QUICK_MS);
    });

    it('answers a new change-signal subscription with 503', async () => {
      const refused = await SseReader.open(
        `${cluster.url(cluster.master)}${SIGNAL}`,
        signed.headersFor('GET', SIGNAL, undefined),
      );
      refused.close();
      expect(refused.status).toBe(503);
    });

    it('is not ready (503, naming domaindb) but alive', async () => {
      const res = await fetch(`${cluster.url(cluster.master)}/health/ready`);
      const body = (await res.json()) as { code: string; message: string };
      expect({ status: res.status, code: body.code }).toEqual({ status: 503, code: 'store_unavailable' });
      expect(body.message).toContain('domaindb');
      expect((await fetch(`${cluster.url(cluster.master)}/health/live`)).status).toBe(200);
    });

    it('leaves the site serving its reads and queueing its writes, ready, with the MDC unreachable', async () => {
      expect((await site.get('/domains/acme/entities/user/before')).status).toBe(200);
      for (let i = 0; i < QUEUED; i++) {
        const res = await site.post('/domains/acme/entities', { kind: 'user', name: `q${i}` });
        expect(res.status).toBe(201);
        expect(res.headers.get('x-sync-state')).toBe('pending');
      }
      expect((await cluster.sync('site-a')).lastCycle).toMatchObject({ ok: false, error: 'mdc_unreachable' });
      expect((await cluster.status('site-a')).queue.length).toBe(QUEUED);
      expect(await ready('site-a')).toBe(200);
    });
  });

  describe('started again', () => {
    /** the stream's length when PostgreSQL was started again: the resync notice comes after it */
    let startedAt = 0;
    beforeAll(async () => {
      startedAt = stream.events.length;
      await pg.start();
    });

    it('is ready again', async () => {
      await waitFor(async () => (await ready(cluster.master)) === 200, 5000);
      expect((await mdc.get('/domains/beta')).status).toBe(200);
    });

    it('is drained by the site on its own, each change applied exactly once, and they converge', async () => {
      await waitFor(async () => {
        const { queue, lastCycle } = await cluster.status('site-a');
        return queue.length === 0 && lastCycle?.ok;
      }, 20_000);
      const applied = await withDb(cluster.mdcDb.url, async (db) => {
        const { rows } = await db.query(
          `SELECT count(*)::int AS n, count(DISTINCT (epoch, seq))::int AS distinct_seqs
             FROM audit_log WHERE site = 'site-a'`,
        );
        return rows[0] as { n: number; distinct_seqs: number };
      });
      // acme, `before`, and the writes queued while DomainDB was away: each once
      expect(applied).toEqual({ n: QUEUED + 2, distinct_seqs: QUEUED + 2 });
      expect(await entities(site)).toEqual(await entities(mdc));
    });

    it('signals its changes again: a write at the MDC reaches the site at once', async () => {
      // Ready (the pool is back) says nothing of the LISTEN connection, which comes back on its own
      // retry: a change before that is covered by the resync notice it sends then, not by a notice of
      // its own. Once the notice is out, each change is signalled on its own.
      expect(await stream.next(startedAt, 10_000, (e) => e.resync)).toMatchObject({ resync: true });
      const from = stream.events.length;
      expect((await mdc.post('/domains/acme/entities', { kind: 'user', name: 'from-mdc' })).status).toBe(201);
      expect(await stream.next(from, 2000)).toEqual({ version: expect.any(String) });
      // the site has no periodic cycle to speak of: only the signal brings it over
      await waitFor(
        async () => (await site.get('/domains/acme/entities/user/from-mdc')).status === 200,
        3000,
      );
    });
  });

  describe('stopped and started again with nothing changing', () => {
    it('tells the connected sites to resync once it listens again, at the head it has', async () => {
      // A change applied before the LISTEN connection is back would go unsignalled: the sites catch up instead.
      // (A site's retry may still land a change meanwhile, so "the head it has" is read after the notice.)
      const from = stream.events.length;
      const { version: seen } = JSON.parse(stream.events[from - 1].data) as { version: string };
      await pg.stop();
      await pg.start();
      const notice = (await stream.next(from, 5000)) as { version: string; resync?: boolean };
      // a whole cycle, whatever the site pulled through: a failover may have moved the head back (SPEC §11)
      expect(notice.resync).toBe(true);
      const head = String((await mdc.get('/sync/status')).body.head);
      expect(BigInt(notice.version)).toBeGreaterThanOrEqual(BigInt(seen));
      expect(BigInt(notice.version)).toBeLessThanOrEqual(BigInt(head));
    });
  });
});
