import { randomUUID } from 'node:crypto';
import { TcpBalancer } from '../harness/balancer';
import { freePort } from '../harness/cluster-files';
import { TestCluster } from '../harness/cluster';
import { withDb } from '../harness/domaindb';
import { AdminClient } from '../harness/http';
import { MDC_MAIN, SiteProcess } from '../harness/processes';

const SITES = ['site-a', 'site-b'];
const LOAD_PER_SITE = 200;
const ADMIN_WRITES = 60;

/** Every entity of a domain, paged. */
async function allEntities(admin: AdminClient, domain: string): Promise<any[]> {
  const items: any[] = [];
  let after: string | null = null;
  do {
    const cursor: string = after ? `&after=${encodeURIComponent(after)}` : '';
    const page = await admin.get(`/domains/${domain}/entities?limit=1000${cursor}`);
    expect(page.status).toBe(200);
    items.push(...page.body.items);
    after = page.body.next;
  } while (after);
  return items;
}

/** Runs `work(i)` for every i < count, `concurrency` at a time. */
async function pool(count: number, concurrency: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await work(next++);
    }),
  );
}

/**
 * SPEC §11 "Scaling out": two MDC replicas on one DomainDB behind a round-robin TCP balancer, the
 * sites reaching the master only through it; one replica SIGKILLed under load. The change signal
 * crosses replicas (LISTEN/NOTIFY), nonces are shared, every write is applied exactly once, and
 * versions stay unique and gap-free.
 */
describe('two MDC replicas behind a TCP balancer, one killed under load', () => {
  let cluster: TestCluster;
  let second: SiteProcess;
  let balancer: TcpBalancer;
  let viaBalancer: AdminClient;
  let replicas: AdminClient[];

  beforeAll(async () => {
    cluster = await TestCluster.start('mdc-replicas', {
      zones: [{ domain: 'acme', sites: SITES }],
      // only the change signal (or a /sync/run) makes a site resync
      sdcEnv: { SYNC_INTERVAL_MS: '600000' },
    });
    const port = await freePort();
    second = SiteProcess.spawn('mdc(mdc-replicas:master#2)', MDC_MAIN, {
      ...cluster.envOf('master'),
      PORT: String(port),
    });
    await second.waitReady();
    balancer = await TcpBalancer.start([
      { host: '127.0.0.1', port: Number(new URL(cluster.url('master')).port) },
      { host: '127.0.0.1', port },
    ]);
    // Each site's relay (its configured master URL) now leads to the balancer.
    for (const site of SITES) cluster.relay(site).retarget(balancer.address);
    viaBalancer = new AdminClient(balancer.url, cluster.files.token);
    replicas = [cluster.admin('master'), new AdminClient(second.url, cluster.files.token)];
    expect((await viaBalancer.post('/domains', { name: 'acme' })).status).toBe(201);
    for (const site of SITES) await cluster.sync(site);
    // both sites' signal streams are open again, through the balancer
    await signalsConnected(5000);
  }, 60_000);
  afterAll(async () => {
    await second?.stop();
    await cluster?.stop();
    await balancer?.close();
  }, 60_000);

  /** Waits until every site's change-signal stream is open. */
  async function signalsConnected(timeoutMs: number): Promise<void> {
    await cluster.waitFor(
      async () => {
        const states = await Promise.all(SITES.map((s) => cluster.status(s)));
        return states.every((s) => s.signalConnected === true);
      },
      timeoutMs,
      50,
    );
  }

  /** Resolves with the ms it took for `name` to be readable at `site`; fails after `timeoutMs`. */
  async function visibleAt(site: string, name: string, timeoutMs = 1000): Promise<number> {
    const started = Date.now();
    await cluster.waitFor(
      async () => (await cluster.admin(site).get(`/domains/acme/entities/probe/${name}`)).status === 200,
      timeoutMs,
      20,
    );
    return Date.now() - started;
  }

  it('goes through the balancer to both replicas', () => {
    expect(balancer.accepted[0]).toBeGreaterThan(0);
    expect(balancer.accepted[1]).toBeGreaterThan(0);
  });

  it('signals every site for a write at either replica, whichever replica its stream is on, within 1 s', async () => {
    // A write applied by each replica in turn: whichever replica a site's stream is on, one of
    // them was applied by the other (LISTEN/NOTIFY crosses replicas).
    for (const [i, replica] of replicas.entries()) {
      const name = `at-replica-${i + 1}`;
      expect((await replica.post('/domains/acme/entities', { kind: 'probe', name })).status).toBe(201);
      await Promise.all(SITES.map((site) => visibleAt(site, name)));
    }
    // A write at site-a: pushed through the balancer, signalled to site-b.
    expect(
      (await cluster.admin('site-a').post('/domains/acme/entities', { kind: 'probe', name: 'from-a' }))
        .status,
    ).toBe(201);
    await visibleAt('site-b', 'from-a');
  });

  it('refuses a signed call replayed to the other replica, or through the balancer (nonces are shared)', async () => {
    const body = JSON.stringify({ cursor: '0', limit: 1 });
    const caller = cluster.signedCaller('site-a');
    const [first, other] = [cluster.url('master'), second.url];
    // The signature covers method, path, body and the receiving site's id, not the host: the same
    // call is good at either replica and through the balancer, once.
    for (const [url, replay] of [
      [first, other],
      [other, first],
      [balancer.url, balancer.url],
    ]) {
      const headers = {
        ...caller.headersFor('POST', '/sync/v1/pull', body, { nonce: randomUUID().replace(/-/g, '') }),
        'content-type': 'application/json',
      };
      const send = (to: string) => fetch(`${to}/sync/v1/pull`, { method: 'POST', headers, body });
      expect([url, (await send(url)).status]).toEqual([url, 200]);
      expect([replay, (await send(replay)).status]).toEqual([replay, 401]);
    }
  });

  it('signals a site that is writing steadily: a write at the MDC is there within 1 s while its own writes go on', async () => {
    let writing = true;
    let n = 0;
    const writer = pool(4, 4, async () => {
      while (writing) {
        const res = await cluster
          .admin('site-b')
          .post('/domains/acme/entities', { kind: 'steady', name: `s${n++}` });
        expect(res.status).toBe(201);
      }
    });
    try {
      await new Promise((r) => setTimeout(r, 1000));
      const before = n;
      expect(
        (await viaBalancer.post('/domains/acme/entities', { kind: 'probe', name: 'while-busy' })).status,
      ).toBe(201);
      await visibleAt('site-b', 'while-busy');
      // site-b kept writing all the while
      expect(n).toBeGreaterThan(before);
    } finally {
      writing = false;
      await writer;
    }
  });

  it('keeps every write exactly once and versions gap-free when a replica is SIGKILLed under load', async () => {
    const written = new Set<string>();
    const adminWritten = new Set<string>();
    const failures: string[] = [];
    let killedAt = 0;
    let done = 0;
    const total = SITES.length * LOAD_PER_SITE;
    const siteLoad = SITES.map((site) =>
      pool(LOAD_PER_SITE, 6, async (i) => {
        const name = `${site}-${i}`;
        const res = await cluster.admin(site).post('/domains/acme/entities', { kind: 'load', name });
        if (res.status === 201) written.add(name);
        else failures.push(`${name}: ${res.status} ${JSON.stringify(res.body)}`);
        done += 1;
      }),
    );
    const adminLoad = pool(ADMIN_WRITES, 3, async (i) => {
      const name = `admin-${i}`;
      // a call cut by the kill may or may not have been applied: only a 201 is a promise
      const res = await viaBalancer
        .post('/domains/acme/entities', { kind: 'load', name })
        .catch(() => undefined);
      if (res?.status === 201) adminWritten.add(name);
      await new Promise((r) => setTimeout(r, 20));
    });
    const killer = (async () => {
      await cluster.waitFor(() => done >= total / 3, 30_000, 10);
      await cluster.kill('master');
      killedAt = Date.now();
      // Under load still, the sites' streams find the surviving replica and its writes reach them.
      const probe = await replicas[1].post('/domains/acme/entities', {
        kind: 'probe',
        name: 'right-after-kill',
      });
      expect(probe.status).toBe(201);
      await Promise.all(SITES.map((site) => visibleAt(site, 'right-after-kill', 2500)));
    })();
    await Promise.all([...siteLoad, adminLoad, killer]);
    expect(failures).toEqual([]);
    expect(written.size).toBe(total);
    expect(killedAt).toBeGreaterThan(0);

    // Drive cycles until both queues are empty, then one more each so both caches are current.
    await cluster.waitFor(
      async () => {
        const states = await Promise.all(
          SITES.map((site) => cluster.sync(site).then(() => cluster.status(site))),
        );
        return states.every((s) => s.queue.length === 0);
      },
      30_000,
      200,
    );
    for (const site of SITES) await cluster.sync(site);

    // Exactly once at the MDC: every 201'd create applied once, nothing applied twice.
    const mdc = replicas[1];
    const creates = await withDb(cluster.mdcDb.url, async (db) => {
      const { rows } = await db.query(
        `SELECT change->>'name' AS name, count(*)::int AS n FROM audit_log
          WHERE domain = 'acme' AND op = 'entity.create' AND change->>'kind' = 'load' GROUP BY 1`,
      );
      return new Map(rows.map((r) => [r.name as string, r.n as number]));
    });
    expect([...creates].filter(([, n]) => n !== 1)).toEqual([]);
    for (const name of [...written, ...adminWritten]) expect([name, creates.get(name)]).toEqual([name, 1]);
    const live = (await allEntities(mdc, 'acme')).filter((e) => e.kind === 'load').map((e) => e.name);
    expect(live.sort()).toEqual([...creates.keys()].sort());
    expect(adminWritten.size).toBeGreaterThan(0);

    // Versions: one per applied change, unique, gap-free, the counter at the last.
    const versions = await withDb(cluster.mdcDb.url, async (db) => {
      const audit = (await db.query(`SELECT version::text AS v FROM audit_log ORDER BY version`)).rows.map(
        (r) => BigInt(r.v),
      );
      const logged = (
        await db.query(`SELECT version::text AS v FROM change_log GROUP BY version ORDER BY version`)
      ).rows.map((r) => BigInt(r.v));
      const counter = BigInt((await db.query(`SELECT value::text AS v FROM version_counter`)).rows[0].v);
      return { audit, logged, counter };
    });
    expect(new Set(versions.audit).size).toBe(versions.audit.length);
    expect(versions.audit).toEqual(versions.audit.map((_, i) => BigInt(i + 1)));
    expect(versions.logged).toEqual(versions.audit);
    expect(versions.counter).toBe(BigInt(versions.audit.length));

    // Each site's cache equals the MDC; nothing was refused.
    const atMdc = await allEntities(mdc, 'acme');
    for (const site of SITES) {
      expect(await allEntities(cluster.admin(site), 'acme')).toEqual(atMdc);
      expect((await cluster.admin(site).get('/sync/rejections')).body.items).toEqual([]);
    }
  }, 120_000);

  it('after the kill, signals through the surviving replica: a write at one site is at the other within 1 s', async () => {
    await signalsConnected(2000);
    for (const [from, to] of [SITES, [...SITES].reverse()]) {
      const name = `after-kill-from-${from}`;
      expect((await cluster.admin(from).post('/domains/acme/entities', { kind: 'probe', name })).status).toBe(
        201,
      );
      await visibleAt(to, name);
    }
    expect(balancer.refused[0]).toBeGreaterThan(0);
  });
});
