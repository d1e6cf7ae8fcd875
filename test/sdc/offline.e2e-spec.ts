import { TestCluster } from '../harness/cluster';
import { withDb } from '../harness/domaindb';
import { AdminClient, Reply } from '../harness/http';

/** SPEC §1: the default `cluster.submitQueueCapacity`. */
const CAPACITY = 10_000;
const COUNTER_UPDATES = 100;
const CREATES = CAPACITY - COUNTER_UPDATES;
/** Writes in flight at once: an operator's scripts, not one request at a time. */
const IN_FLIGHT = 16;
const PROVISIONAL = /^\d+\+site-a\.\d+$/;

/** some of the created users, checked one by one */
const SAMPLE = [0, 1, Math.floor(CREATES / 3), Math.floor(CREATES / 2), CREATES - 1];

const userName = (i: number) => `u${String(i).padStart(5, '0')}`;
const userNames = () => Array.from({ length: CREATES }, (_, i) => userName(i));

/** Runs `work` over `items` with at most `lanes` calls in flight. */
async function inLanes<T>(items: T[], lanes: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < items.length) await work(items[next++]);
    }),
  );
}

/** Every entity of a kind in a domain, as a site lists them, following `next` (SPEC §5 paging). */
async function allEntities(admin: AdminClient, domain: string, kind: string): Promise<any[]> {
  const items: any[] = [];
  let after: string | null = null;
  do {
    const cursor: string = after ? `&after=${encodeURIComponent(after)}` : '';
    const page = await admin.get(`/domains/${domain}/entities?kind=${kind}&limit=1000${cursor}`);
    expect(page.status).toBe(200);
    items.push(...page.body.items);
    after = page.body.next;
  } while (after);
  return items;
}

/**
 * SPEC §1, §6, §12: a site cut off from the MDC keeps working — reads, and writes piling up in its
 * submit queue up to its capacity — refuses the write past it, and once the link returns drains the
 * queue in order with nothing lost or doubled.
 */
describe('SDC cut off from the MDC', () => {
  let cluster: TestCluster;
  let siteA: AdminClient;
  let mdc: AdminClient;
  /** the MDC's audit rows for acme, and site-a's last applied seq, before the link went down */
  let auditBefore: number;
  let seqBefore: number;

  /**
   * Runs cycles until one succeeds with the queue empty. Only an unreachable MDC means "not yet";
   * a cycle failing for any other reason fails the test at once.
   */
  async function drain(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { lastCycle } = await cluster.sync('site-a');
      const { queue } = await cluster.status('site-a');
      if (lastCycle.ok && queue.length === 0) return;
      const state = `queue ${queue.length} after ${JSON.stringify(lastCycle)}`;
      if (!lastCycle.ok && lastCycle.error !== 'mdc_unreachable') throw new Error(`a cycle failed: ${state}`);
      if (Date.now() > deadline) throw new Error(`not drained in ${timeoutMs} ms: ${state}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  const auditRows = () =>
    withDb(cluster.mdcDb.url, async (db) => {
      const { rows } = await db.query(`SELECT count(*)::int AS n FROM audit_log WHERE domain = 'acme'`);
      return rows[0].n as number;
    });

  beforeAll(async () => {
    cluster = await TestCluster.start('sdc-offline', {
      sites: ['master', 'site-a'],
      zones: [{ domain: 'acme', sites: ['site-a'] }],
    });
    siteA = cluster.admin('site-a');
    mdc = cluster.admin('master');
    await drain(20_000);
    expect((await siteA.post('/domains', { name: 'acme' })).status).toBe(201);
    await drain(20_000);
    expect((await siteA.post('/domains/acme/entities', { kind: 'counter', name: 'counter' })).status).toBe(
      201,
    );
    await drain(20_000);
    expect((await mdc.get('/domains/acme/entities/counter/counter')).status).toBe(200);
    auditBefore = await auditRows();
    seqBefore = await withDb(cluster.mdcDb.url, async (db) => {
      const { rows } = await db.query(`SELECT max(seq)::int AS seq FROM audit_log WHERE site = 'site-a'`);
      return rows[0].seq as number;
    });
  }, 60_000);
  afterAll(() => cluster?.stop());

  it(`keeps accepting writes and serving reads while cut off, and refuses the ${CAPACITY + 1}st with queue_full`, async () => {
    cluster.cut('site-a');
    const notPending: string[] = [];
    const expectPending = (what: string, res: Reply, status: number) => {
      if (res.status !== status || res.headers.get('x-sync-state') !== 'pending')
        notPending.push(
          `${what}: ${res.status} ${res.headers.get('x-sync-state')} ${JSON.stringify(res.body)}`,
        );
    };

    // One lane of updates to one entity, one at a time so their order is defined, each read back at
    // once; beside it, creates of many entities with the other lanes.
    const counterUpdates = (async () => {
      for (let n = 0; n < COUNTER_UPDATES; n++) {
        const res = await siteA.patch('/domains/acme/entities/counter/counter', { attributes: { n } });
        expectPending(`counter n=${n}`, res, 200);
        const read = await siteA.get('/domains/acme/entities/counter/counter');
        expect(read.status).toBe(200);
        expect(read.body).toMatchObject({ attributes: { n }, pending: true });
        expect(read.body.version).toMatch(PROVISIONAL);
      }
    })();
    await inLanes(userNames(), IN_FLIGHT - 1, async (name) => {
      const res = await siteA.post('/domains/acme/entities', { kind: 'user', name, attributes: { name } });
      expectPending(name, res, 201);
    });
    await counterUpdates;
    expect(notPending.slice(0, 5)).toEqual([]);
    expect((await cluster.status('site-a')).queue).toMatchObject({ length: CAPACITY, capacity: CAPACITY });

    // The write past the capacity is refused and changes nothing.
    const overflow = await siteA.post('/domains/acme/entities', { kind: 'user', name: 'overflow' });
    expect(overflow.status).toBe(503);
    expect(overflow.body.code).toBe('queue_full');
    expect(Number(overflow.headers.get('retry-after'))).toBeGreaterThan(0);
    const update = await siteA.patch('/domains/acme/entities/counter/counter', { attributes: { n: -1 } });
    expect([update.status, update.body.code]).toEqual([503, 'queue_full']);
    expect((await siteA.get('/domains/acme/entities/user/overflow')).status).toBe(404);
    expect((await siteA.get('/domains/acme/entities/counter/counter')).body.attributes).toEqual({ n: 99 });
    expect((await cluster.status('site-a')).queue.length).toBe(CAPACITY);

    // Reads are still served, from the site's own data.
    const sampled = userName(SAMPLE[2]);
    const read = await siteA.get(`/domains/acme/entities/user/${sampled}`);
    expect(read.status).toBe(200);
    expect(read.headers.get('x-served-by')).toBe('site-a');
    expect(read.body).toMatchObject({ attributes: { name: sampled }, pending: true });
    expect(read.body.version).toMatch(PROVISIONAL);
    const page = await siteA.get('/domains/acme/entities?limit=100');
    expect(page.status).toBe(200);
    expect(page.body.items).toHaveLength(100);

    const { lastCycle } = await cluster.sync('site-a');
    expect(lastCycle).toMatchObject({ ok: false, error: 'mdc_unreachable', pushed: 0 });
    const status = await cluster.status('site-a');
    expect(status.mdcReachable).toBe(false);
    expect(status.queue.length).toBe(CAPACITY);
    expect(status.queue.oldestAgeMs).toBeGreaterThan(0);
    expect(await auditRows()).toBe(auditBefore);
  }, 100_000);

  it('drains in order once the link returns: every change applied once, none lost, none doubled', async () => {
    cluster.restore('site-a');
    await drain(60_000);
    expect((await siteA.get('/sync/rejections?limit=1000')).body.items).toEqual([]);
    expect((await cluster.status('site-a')).mdcReachable).toBe(true);

    // Exactly the changes made, each once, applied in the order they were made.
    expect(await auditRows()).toBe(auditBefore + CAPACITY);
    const applied = await withDb(cluster.mdcDb.url, async (db) => {
      const { rows } = await db.query(
        `SELECT seq::int AS seq, op, change FROM audit_log WHERE site = 'site-a' AND seq > $1 ORDER BY version`,
        [seqBefore],
      );
      return rows as Array<{ seq: number; op: string; change: any }>;
    });
    expect(applied.map((r) => r.seq)).toEqual(Array.from({ length: CAPACITY }, (_, i) => seqBefore + 1 + i));
    const counterValues = applied.filter((r) => r.op === 'entity.update').map((r) => r.change.patch.n);
    expect(counterValues).toEqual(Array.from({ length: COUNTER_UPDATES }, (_, n) => n));

    const atMdc = await allEntities(mdc, 'acme', 'user');
    expect(atMdc.map((e) => e.name)).toEqual(userNames());
    expect((await mdc.get('/domains/acme/entities/counter/counter')).body.attributes).toEqual({ n: 99 });

    // The site equals the MDC again: same objects with the MDC's versions, nothing pending.
    const sample = ['counter/counter', ...SAMPLE.map((i) => `user/${userName(i)}`)];
    for (const path of sample) {
      const [here, there] = await Promise.all([
        siteA.get(`/domains/acme/entities/${path}`),
        mdc.get(`/domains/acme/entities/${path}`),
      ]);
      expect(here.status).toBe(200);
      expect(here.body).toEqual(there.body);
    }
    const atSite = new Map((await allEntities(siteA, 'acme', 'user')).map((e) => [e.name, e]));
    const differing = atMdc
      .filter((e) => atSite.get(e.name)?.version !== e.version || atSite.get(e.name)?.pending)
      .map(
        (e) =>
          `${e.name}: ${JSON.stringify(atSite.get(e.name))} at the site, version ${e.version} at the MDC`,
      );
    expect({ 'listed at the site (kind=user)': atSite.size, differing: differing.slice(0, 3) }).toEqual({
      'listed at the site (kind=user)': CREATES,
      differing: [],
    });
  }, 100_000);

  /** site-a's row of the MDC's /cluster/status (SPEC §5). */
  async function atMdc(): Promise<any> {
    const res = await mdc.get('/cluster/status');
    expect(res.status).toBe(200);
    return res.body.sites.find((s: { site: string }) => s.site === 'site-a');
  }

  it("shows at the MDC the site's queue as a cycle leaves it, not as its last push found it (SPEC §10: fresh)", async () => {
    cluster.cut('site-a');
    for (const n of [1, 2, 3]) {
      const res = await siteA.patch('/domains/acme/entities/counter/counter', { attributes: { n: 100 + n } });
      expect([res.status, res.headers.get('x-sync-state')]).toEqual([200, 'pending']);
    }
    expect((await cluster.status('site-a')).queue.length).toBe(3);
    cluster.restore('site-a');
    await drain(20_000);
    expect((await cluster.sync('site-a')).lastCycle).toMatchObject({ ok: true });
    expect(await atMdc()).toMatchObject({ queueLength: 0, lagVersions: '0' });
  }, 60_000);

  it("exports the same per-site figures as gauges on the MDC's /metrics (SPEC §10)", async () => {
    const text = await (await fetch(`${cluster.url('master')}/metrics`)).text();
    const site = await atMdc();
    const now = Date.now();
    const gauge = (name: string) => {
      const sample = new RegExp(`^${name}\\{site="site-a"\\} (\\S+)$`, 'm').exec(text);
      return sample ? Number(sample[1]) : undefined;
    };
    expect(gauge('dd_mdc_site_queue_length')).toBe(site.queueLength);
    expect(gauge('dd_mdc_site_lag_versions')).toBe(Number(site.lagVersions));
    const ageOf = (at: string) => (now - Date.parse(at)) / 1000;
    expect(Math.abs(gauge('dd_mdc_site_last_push_age_seconds')! - ageOf(site.lastPushAt))).toBeLessThan(2);
    expect(Math.abs(gauge('dd_mdc_site_last_resync_age_seconds')! - ageOf(site.lastResyncAt))).toBeLessThan(
      2,
    );
    // the master reports nothing of its own
    expect(text).not.toMatch(/^dd_mdc_site_\w+\{site="master"\}/m);
  });
});
