import Redis from 'ioredis';
import { TestCluster } from '../harness/cluster';
import { auditOf } from '../harness/domaindb';
import { AdminClient } from '../harness/http';

/** Changes queued while cut off, then pushed in several batches, one of them cut short by SIGKILL. */
const QUEUED_BEFORE_KILL = 3000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * SPEC §6–§8, §12: a work site heals itself — it survives being killed mid-push (exactly once) and
 * restarted (its queue kept), rebuilds a Redis that lost its data under a new epoch, repairs a
 * cache edited by hand, and on a short cycle drains and converges with no operator action.
 */
describe('SDC self-healing', () => {
  let cluster: TestCluster;
  let siteA: AdminClient;
  let mdc: AdminClient;
  let redis: Redis;

  beforeAll(async () => {
    cluster = await TestCluster.start('sdc-healing', {
      sites: ['master', 'site-a'],
      zones: [{ domain: 'acme', sites: ['site-a'] }],
      sdcEnv: { SYNC_INTERVAL_MS: '500' },
    });
    siteA = cluster.admin('site-a');
    mdc = cluster.admin('master');
    redis = new Redis(cluster.redisUrl('site-a'));
    await cluster.drain('site-a', 20_000);
    expect((await siteA.post('/domains', { name: 'acme' })).status).toBe(201);
    await cluster.drain('site-a', 20_000);
  }, 60_000);
  afterAll(async () => {
    redis?.disconnect();
    await cluster?.stop();
  });

  /** A fresh domain under acme (so site-a serves it), created at the site and synced. */
  async function domainAtSite(name: string, settings: Record<string, unknown> = {}): Promise<void> {
    expect((await siteA.post('/domains', { name, settings })).status).toBe(201);
    await cluster.drain('site-a', 20_000);
  }

  async function createAt(admin: AdminClient, domain: string, name: string, attributes = {}) {
    const res = await admin.post(`/domains/${domain}/entities`, { kind: 'user', name, attributes });
    expect([res.status, res.body.code]).toEqual([201, undefined]);
    return res;
  }

  const audit = (domain: string) => auditOf(cluster.mdcDb.url, domain);

  const rejections = async () => (await siteA.get('/sync/rejections?limit=1000')).body.items;

  it('keeps its queue across a restart (SIGTERM): the changes stay pending, then reach the MDC', async () => {
    const domain = 'restart.acme';
    await domainAtSite(domain);
    cluster.cut('site-a');
    const names = ['r1', 'r2', 'r3', 'r4'];
    for (const name of names) await createAt(siteA, domain, name);
    expect((await siteA.patch(`/domains/${domain}/entities/user/r1`, { attributes: { v: 2 } })).status).toBe(
      200,
    );
    expect((await cluster.status('site-a')).queue.length).toBe(5);

    await cluster.restart('site-a');
    expect((await cluster.status('site-a')).queue.length).toBe(5);
    for (const name of names) {
      const read = await siteA.get(`/domains/${domain}/entities/user/${name}`);
      expect(read.status).toBe(200);
      expect(read.body.pending).toBe(true);
    }
    expect((await siteA.get(`/domains/${domain}/entities/user/r1`)).body.attributes).toEqual({ v: 2 });

    cluster.restore('site-a');
    await cluster.drain('site-a', 30_000);
    for (const name of names)
      expect((await mdc.get(`/domains/${domain}/entities/user/${name}`)).status).toBe(200);
    expect((await mdc.get(`/domains/${domain}/entities/user/r1`)).body.attributes).toEqual({ v: 2 });
    expect(await audit(domain)).toHaveLength(1 + 5);
  }, 60_000);

  it('rebuilds its whole scope after its Redis lost its data, under a new epoch, and its new changes still reach the MDC', async () => {
    const domain = 'flush.acme';
    await domainAtSite(domain, { tier: 'gold' });
    await domainAtSite(`eu.${domain}`);
    await createAt(siteA, domain, 'before');
    await createAt(siteA, `eu.${domain}`, 'below');
    await cluster.drain('site-a', 20_000);
    const { epoch: oldEpoch } = await cluster.status('site-a');
    expect(oldEpoch).toBeTruthy();

    await cluster.flushRedis('site-a');
    await cluster.drain('site-a', 30_000);
    expect((await siteA.get(`/domains/${domain}`)).body.settings).toEqual({ tier: 'gold' });
    expect((await siteA.get(`/domains/${domain}/entities/user/before`)).status).toBe(200);
    expect((await siteA.get(`/domains/eu.${domain}/entities/user/below`)).status).toBe(200);
    const { epoch } = await cluster.status('site-a');
    expect(epoch).toBeTruthy();
    expect(epoch).not.toBe(oldEpoch);

    // Its seqs start again at 1: only the new epoch keeps the MDC from taking them for re-sends.
    await createAt(siteA, domain, 'after', { v: 1 });
    await siteA.patch(`/domains/${domain}/entities/user/before`, { attributes: { v: 2 } });
    await cluster.drain('site-a', 20_000);
    expect(await rejections()).toEqual([]);
    expect((await mdc.get(`/domains/${domain}/entities/user/after`)).status).toBe(200);
    expect((await mdc.get(`/domains/${domain}/entities/user/before`)).body.attributes).toEqual({ v: 2 });
    const fromNewEpoch = (await audit(domain)).filter((r) => r.epoch === epoch);
    expect(fromNewEpoch.map((r) => r.op)).toEqual(['entity.create', 'entity.update']);
  }, 90_000);

  it('repairs a cache edited by hand in its next cycle', async () => {
    const domain = 'drift.acme';
    await domainAtSite(domain, { plan: 'basic' });
    await createAt(siteA, domain, 'alice', { mail: 'alice@acme' });
    await cluster.drain('site-a', 20_000);
    const repairedBefore = await repairedTotal();

    expect(await redis.hdel(`{site-a}:ent:${domain}`, 'user\u0000alice')).toBe(1);
    const cached = JSON.parse((await redis.hget('{site-a}:dom', domain))!);
    cached.domain.settings = { plan: 'tampered' };
    await redis.hset('{site-a}:dom', domain, JSON.stringify(cached));

    const lastCycle = await cluster.drain('site-a', 20_000);
    expect(lastCycle.ok).toBe(true);
    const alice = await siteA.get(`/domains/${domain}/entities/user/alice`);
    expect(alice.status).toBe(200);
    expect(alice.body).toEqual((await mdc.get(`/domains/${domain}/entities/user/alice`)).body);
    expect((await siteA.get(`/domains/${domain}`)).body.settings).toEqual({ plan: 'basic' });
    // The site's own cycles run every 500 ms too, so the repair may be reported by one of those.
    expect(await repairedTotal()).toBeGreaterThan(repairedBefore);
  }, 60_000);

  it('on a short cycle, with no operator action, drains its queue after the link returns and picks up the MDC’s writes', async () => {
    const domain = 'auto.acme';
    expect((await siteA.post('/domains', { name: domain })).status).toBe(201);
    await cluster.waitFor(async () => (await mdc.get(`/domains/${domain}`)).status === 200, 15_000);

    cluster.cut('site-a');
    const names = Array.from({ length: 20 }, (_, i) => `a${i}`);
    for (const name of names) await createAt(siteA, domain, name);
    await createAt(mdc, domain, 'from-mdc', { by: 'master' });
    await sleep(1000);
    expect((await cluster.status('site-a')).queue.length).toBe(names.length);
    expect((await siteA.get(`/domains/${domain}/entities/user/from-mdc`)).status).toBe(404);

    cluster.restore('site-a');
    await cluster.waitFor(
      async () => {
        const status = await cluster.status('site-a');
        const [mine, theirs] = await Promise.all([
          mdc.get(`/domains/${domain}/entities/user/${names[names.length - 1]}`),
          siteA.get(`/domains/${domain}/entities/user/from-mdc`),
        ]);
        return status.queue.length === 0 && mine.status === 200 && theirs.status === 200;
      },
      15_000,
      200,
    );
    for (const name of names)
      expect((await mdc.get(`/domains/${domain}/entities/user/${name}`)).status).toBe(200);
    const fromMdc = await siteA.get(`/domains/${domain}/entities/user/from-mdc`);
    expect(fromMdc.body).toEqual((await mdc.get(`/domains/${domain}/entities/user/from-mdc`)).body);
    expect(await rejections()).toEqual([]);
  }, 40_000);

  it('applies every queued change exactly once when the SDC is killed (SIGKILL) mid-push', async () => {
    const domain = 'kill.acme';
    await domainAtSite(domain);
    cluster.cut('site-a');
    const names = Array.from({ length: QUEUED_BEFORE_KILL }, (_, i) => `k${i}`);
    await cluster.queueCreates('site-a', domain, names);
    expect((await cluster.status('site-a')).queue.length).toBe(QUEUED_BEFORE_KILL);

    // Killed once part of the queue is acknowledged and the rest is not.
    const shrinking = await cluster.killMidPush('site-a', () => redis.llen('{site-a}:queue'));
    expect(shrinking).toBeLessThan(QUEUED_BEFORE_KILL);
    // Its cycle runs every 500 ms: a restarted site is back at work long before this.
    await cluster.drain('site-a', 20_000);

    const applied = await audit(domain);
    const creates = applied.filter((r) => r.op === 'entity.create');
    expect(creates).toHaveLength(QUEUED_BEFORE_KILL);
    expect(new Set(creates.map((r) => `${r.epoch}/${r.seq}`)).size).toBe(QUEUED_BEFORE_KILL);
    expect(creates.map((r) => r.change.name)).toEqual(names);
    expect(await rejections()).toEqual([]);
    for (const name of [names[0], names[QUEUED_BEFORE_KILL / 2], names[QUEUED_BEFORE_KILL - 1]]) {
      const [here, there] = await Promise.all([
        siteA.get(`/domains/${domain}/entities/user/${name}`),
        mdc.get(`/domains/${domain}/entities/user/${name}`),
      ]);
      expect(there.status).toBe(200);
      expect(here.body).toEqual(there.body);
    }
  }, 110_000);

  /** dd_sdc_repaired_total from the site's /metrics: domains repaired by its cycles so far. */
  async function repairedTotal(): Promise<number> {
    const text = await (await fetch(`${cluster.url('site-a')}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('dd_sdc_repaired_total'));
    return Number(line?.split(' ')[1] ?? NaN);
  }
});
