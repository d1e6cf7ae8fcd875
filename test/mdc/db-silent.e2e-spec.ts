import { TestCluster, waitFor } from '../harness/cluster';
import { AdminClient } from '../harness/http';
import { TcpRelay } from '../harness/relay';
import { createTestDatabase, TestDatabase } from '../harness/services';
import { SseReader } from '../harness/sse';

const SIGNAL = '/sync/v1/signal';
/** the MDC's DATABASE_QUERY_TIMEOUT_MS here (30 s by default) */
const QUERY_TIMEOUT_MS = 1500;

/**
 * SPEC §11: DomainDB's primary dies without a word — no FIN, no reset, as when the host goes and the
 * database's address is a DNS name that now points elsewhere. Every connection the MDC holds goes
 * silent; new ones reach the database. The MDC must not hang on the silent ones: a query left
 * unanswered fails (503) after DATABASE_QUERY_TIMEOUT_MS and its connection is dropped, the LISTEN
 * connection is found dead by its heartbeat and made again (the sites told to resync), and within
 * seconds every call is answered as before.
 */
describe('an MDC whose DomainDB connections go silent', () => {
  let db: TestDatabase;
  let relay: TcpRelay;
  let cluster: TestCluster;
  let mdc: AdminClient;
  let site: AdminClient;
  let stream: SseReader;

  beforeAll(async () => {
    db = await createTestDatabase('db-silent');
    const url = new URL(db.url);
    relay = await TcpRelay.start({ host: url.hostname, port: Number(url.port || 5432) });
    url.host = `127.0.0.1:${relay.port}`;
    cluster = await TestCluster.start('db-silent', {
      sites: ['master', 'site-a'],
      zones: [{ domain: 'acme', sites: ['site-a'] }],
      databaseUrl: url.toString(),
      mdcEnv: { DATABASE_QUERY_TIMEOUT_MS: String(QUERY_TIMEOUT_MS) },
      sdcEnv: { SYNC_INTERVAL_MS: '600000' },
    });
    mdc = cluster.admin(cluster.master);
    site = cluster.admin('site-a');
    const signed = cluster.signedCaller('site-a');
    stream = await SseReader.open(
      `${cluster.url(cluster.master)}${SIGNAL}`,
      signed.headersFor('GET', SIGNAL, undefined),
    );
  }, 60_000);

  afterAll(async () => {
    stream?.close();
    await cluster?.stop();
    await relay?.close();
    await db?.drop();
  });

  it('answers again within seconds, every pooled connection made anew, and signals again', async () => {
    expect((await mdc.post('/domains', { name: 'acme' })).status).toBe(201);
    expect((await site.post('/domains/acme/entities', { kind: 'user', name: 'before' })).status).toBe(201);
    expect((await cluster.sync('site-a')).lastCycle).toMatchObject({ ok: true });
    // the pool holds several connections
    const reads = await Promise.all(Array.from({ length: 12 }, () => mdc.get('/domains/acme/entities')));
    expect(reads.map((r) => r.status)).toEqual(Array(12).fill(200));
    expect(relay.connections).toBeGreaterThanOrEqual(3);

    const from = stream.events.length;
    const silentAt = Date.now();
    relay.freeze(relay.target);

    // Calls are answered — 503 store_unavailable while a silent connection is tried, never a hang —
    // until every one is 201 again: after one 503, since the first timeout drops every older idle
    // connection with its own (each would cost a caller a timeout of its own otherwise).
    const calls: Array<{ status: number; code?: string; ms: number }> = [];
    for (let n = 0; Date.now() - silentAt < 20_000; n++) {
      const started = Date.now();
      const res = await mdc.post('/domains/acme/entities', { kind: 'user', name: `after-${n}` });
      calls.push({ status: res.status, code: res.body?.code, ms: Date.now() - started });
      if (res.status === 201) break;
    }
    console.log(
      `silent DomainDB connections: answered again after ${Date.now() - silentAt} ms; ${JSON.stringify(calls)}`,
    );
    for (const call of calls) expect(call.ms).toBeLessThan(QUERY_TIMEOUT_MS + 3000);
    expect(calls.map(({ status, code }) => ({ status, code }))).toEqual([
      { status: 503, code: 'store_unavailable' },
      { status: 201, code: undefined },
    ]);
    // then each call at once: no silent connection is left in the pool
    const after = await Promise.all(Array.from({ length: 12 }, () => mdc.get('/domains/acme/entities')));
    expect(after.map((r) => r.status)).toEqual(Array(12).fill(200));
    for (let i = 0; i < 10; i++) {
      const started = Date.now();
      expect((await mdc.get('/domains/acme')).status).toBe(200);
      expect(Date.now() - started).toBeLessThan(QUERY_TIMEOUT_MS);
    }

    // the LISTEN connection was silent too: found dead by its heartbeat, made again, the sites told
    expect(await stream.next(from, 15_000, (e) => e.resync)).toMatchObject({ resync: true });
    const signalled = stream.events.length;
    expect((await mdc.post('/domains/acme/entities', { kind: 'user', name: 'signalled' })).status).toBe(201);
    expect(await stream.next(signalled, 2000)).toEqual({ version: expect.any(String) });
    await waitFor(async () => (await site.get('/domains/acme/entities/user/signalled')).status === 200, 5000);
    // and the site's own writes reach the MDC
    expect((await site.post('/domains/acme/entities', { kind: 'user', name: 'from-site' })).status).toBe(201);
    expect((await cluster.sync('site-a')).lastCycle).toMatchObject({ ok: true });
    expect((await mdc.get('/domains/acme/entities/user/from-site')).status).toBe(200);
  }, 90_000);
});
