import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { bucketOf } from '@dd/directory';
// the budget the SDC's cycle scrubs with (a constant of the app; the e2e reads it from the source)
import { SCRUB_BUDGET } from '../../apps/sdc/src/sync/sync-cycle';
import { TestCluster } from '../harness/cluster';
import type { Reply } from '../harness/http';

/** Entities pushed in the domain the bucket repair is shown in (the issue: "a domain of ~20000"). */
const BIG = 20_000;
/** Entities in each of the 3 levels of the zone a site bootstraps. */
const PER_LEVEL = 900;
/** Snapshot page size at the sites: small, so a bootstrap takes many pages. */
const PAGE = 50;

/**
 * SPEC §8 "Scale": a repair moves only the differing bucket; a new zone streams in by pages and is
 * served only once complete; the rolling scrub finds a hand edit in a large domain slice by slice.
 */
describe('SDC at scale: buckets, paged snapshots, sliced scrub', () => {
  let cluster: TestCluster;
  let redisA: Redis;

  beforeAll(async () => {
    cluster = await TestCluster.start('sdc-scale', {
      sites: ['master', 'site-a', 'site-b'],
      zones: [
        { domain: 'big', sites: ['site-a'] },
        { domain: 'corp', sites: ['site-a'] },
      ],
      sdcEnv: { SYNC_INTERVAL_MS: '600000', SNAPSHOT_PAGE: String(PAGE) },
    });
    redisA = new Redis(cluster.redisUrl('site-a'));
    const mdc = cluster.admin('master');
    for (const name of ['big', 'corp', 'eu.corp', 'sales.eu.corp'])
      expect((await mdc.post('/domains', { name })).status).toBe(201);
    // Bulk provisioning through the site protocol's push (as site-a, under an epoch of its own).
    await pushCreates('big', BIG);
    for (const name of ['corp', 'eu.corp', 'sales.eu.corp']) await pushCreates(name, PER_LEVEL);
    await syncedOk('site-a');
    await syncedOk('site-b');
  }, 180_000);
  afterAll(async () => {
    redisA?.disconnect();
    await cluster?.stop();
  });

  const servedBy = (reply: Reply) => reply.headers.get('x-served-by');

  async function syncedOk(site: string): Promise<any> {
    const { lastCycle } = await cluster.sync(site);
    expect({ site, lastCycle }).toMatchObject({ site, lastCycle: { ok: true } });
    return lastCycle;
  }

  async function pushCreates(domain: string, count: number): Promise<void> {
    const caller = cluster.signedCaller('site-a');
    const epoch = randomUUID();
    for (let from = 0; from < count; from += 1000) {
      const changes = Array.from({ length: Math.min(1000, count - from) }, (_, i) => ({
        seq: from + i + 1,
        change: {
          op: 'entity.create',
          id: randomUUID(),
          domain,
          kind: 'user',
          name: `u${from + i}`,
          attributes: { n: from + i },
        },
        actor: 'bulk',
        at: new Date().toISOString(),
      }));
      const res = await caller.call('POST', '/sync/v1/push', { epoch, changes });
      expect(res.status).toBe(200);
      expect(res.body.verdicts.every((v: { status: string }) => v.status === 'applied')).toBe(true);
    }
  }

  it('repairs one entity edited behind the site’s back by fetching only its bucket', async () => {
    const path = '/domains/big/entities/user/u4242';
    const truth = (await cluster.admin('master').get(path)).body;
    const key = '{site-a}:ent:big';
    const raw = JSON.parse((await redisA.hget(key, 'user\u0000u4242'))!);
    raw.entity.attributes = { n: 'tampered' };
    await redisA.hset(key, 'user\u0000u4242', JSON.stringify(raw));
    expect((await cluster.admin('site-a').get(path)).body.attributes).toEqual({ n: 'tampered' });

    // The rolling scrub walks site-a's scope (big, and the 3 domains of corp) a budget at a time: within
    // ⌈(scope + 8 × domains) / budget⌉ cycles it has judged the edited bucket, and that cycle's repair
    // moves that bucket alone.
    const bound = Math.ceil((BIG + 1 + 3 * (PER_LEVEL + 1) + 8 * 4) / SCRUB_BUDGET);
    const bucket = bucketOf(truth.id);
    let repair: any;
    for (let cycle = 0; cycle < bound && !repair; cycle++) {
      const lastCycle = await syncedOk('site-a');
      if (lastCycle.repaired > 0) repair = lastCycle;
    }
    expect(repair).toBeDefined();
    const sameBucket = await entitiesInBucket('big', bucket);
    expect(sameBucket).toBeGreaterThan(0);
    expect(sameBucket).toBeLessThan(BIG / 100);
    expect(repair).toMatchObject({ repaired: 1, pulled: sameBucket });
    const now = await cluster.admin('site-a').get(path);
    expect({ status: now.status, servedBy: servedBy(now), body: now.body }).toEqual({
      status: 200,
      servedBy: 'site-a',
      body: truth,
    });
    // and the next cycles find nothing more to repair
    expect(await syncedOk('site-a')).toMatchObject({ repaired: 0, pulled: 0 });
  }, 120_000);

  it('bootstraps a newly assigned 3-level zone by pages in one /sync/run, never serving it partially', async () => {
    const levels = ['corp', 'eu.corp', 'sales.eu.corp'];
    expect(servedBy(await cluster.admin('site-b').get('/domains/corp'))).not.toBe('site-b');
    // site-b is cut off while the reload lands, so the cycle the reload itself starts fails and the
    // one run below is the cycle that loads the zone
    cluster.cut('site-b');
    try {
      cluster.reload({
        zones: [
          { domain: 'big', sites: ['site-a'] },
          { domain: 'corp', sites: ['site-a', 'site-b'] },
        ],
      });
      await cluster.waitFor(async () => (await cluster.status('site-b')).servedZones.includes('corp'), 5000);
      await cluster.waitFor(
        async () => (await cluster.status('site-b')).lastCycle?.error === 'mdc_unreachable',
        5000,
      );
    } finally {
      cluster.restore('site-b');
    }

    // Reads while the zone streams in: each is proxied, or answered by site-b in full.
    let reading = true;
    const seen: string[] = [];
    const running: Array<{ phase: string; pages: number }> = [];
    const reader = (async () => {
      while (reading) {
        const { running: now } = await cluster.status('site-b');
        if (now) running.push(now);
        for (const name of levels) {
          const res = await cluster.admin('site-b').get(`/domains/${name}/entities?limit=1000`);
          expect(res.status).toBe(200);
          if (servedBy(res) === 'site-b') expect(res.body.items).toHaveLength(PER_LEVEL);
          seen.push(servedBy(res)!);
        }
      }
    })();
    let lastCycle: any;
    try {
      lastCycle = await syncedOk('site-b');
    } finally {
      reading = false;
      await reader;
    }
    // one cycle, many pages: 3 × 900 entities in pages of 50
    expect(lastCycle.pulled).toBeGreaterThanOrEqual(3 * PER_LEVEL);
    // /sync/status showed the running cycle (written every 500 ms while it runs), and shows none after
    for (const r of running) expect(['queued', 'push', 'pull', 'verify', 'record']).toContain(r.phase);
    if (lastCycle.durationMs > 1500) expect(running.length).toBeGreaterThan(0);
    expect((await cluster.status('site-b')).running).toBeNull();
    for (const name of levels) {
      const res = await cluster.admin('site-b').get(`/domains/${name}/entities?limit=1000`);
      expect({ status: res.status, servedBy: servedBy(res), n: res.body.items.length }).toEqual({
        status: 200,
        servedBy: 'site-b',
        n: PER_LEVEL,
      });
      expect(res.body).toEqual(
        (await cluster.admin('master').get(`/domains/${name}/entities?limit=1000`)).body,
      );
    }
    expect(seen.length).toBeGreaterThan(0);
    expect(await syncedOk('site-b')).toMatchObject({ repaired: 0 });
  }, 120_000);

  /** How many of a domain's entities the MDC has in one bucket (read through its admin API). */
  async function entitiesInBucket(domain: string, bucket: number): Promise<number> {
    let n = 0;
    let after: string | undefined;
    for (;;) {
      const res = await cluster
        .admin('master')
        .get(`/domains/${domain}/entities?limit=1000${after ? `&after=${encodeURIComponent(after)}` : ''}`);
      for (const e of res.body.items as Array<{ id: string }>) if (bucketOf(e.id) === bucket) n += 1;
      after = res.body.next ?? undefined;
      if (!after) return n;
    }
  }
});
