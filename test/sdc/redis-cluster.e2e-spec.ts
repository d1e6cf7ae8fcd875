import type { Cluster } from 'ioredis';
import { keySlot, nodeForKey } from '../../apps/sdc/src/cache/site-redis';
import { freePort } from '../harness/cluster-files';
import { TestCluster } from '../harness/cluster';
import { auditOf } from '../harness/domaindb';
import { AdminClient, Reply } from '../harness/http';
import { expectStoreUnavailable, timed } from '../harness/outage';
import { missingRedisClusterBinaries, OwnRedisCluster } from '../harness/own-servers';
import { SDC_MAIN, SiteProcess } from '../harness/processes';

/** Changes queued while cut off, then pushed in several batches, one of them cut short by SIGKILL. */
const QUEUED_BEFORE_KILL = 3000;
const SITES = ['site-a', 'site-b'];
/** A frozen master answers nothing: the site gives up on a command within its command timeout (~1.5 s). */
const FROZEN_MS = 4000;

const missing = missingRedisClusterBinaries();
if (missing.length > 0)
  console.log(`test/sdc/redis-cluster.e2e-spec.ts skipped: ${missing.join(' and ')} not on PATH`);
const describeOnCluster = missing.length === 0 ? describe : describe.skip;

/**
 * SPEC §4, §11: two work sites whose SDCs keep everything in one 3-master Redis Cluster
 * (`REDIS_URL=redis-cluster://…`), each site's keys in the slot of its hash tag. The seed scenarios
 * hold there as on one Redis: writes travel both ways, a site cut off queues and drains exactly
 * once, a SIGKILL mid-push loses and doubles nothing, and two replicas of a site share its keys.
 */
describeOnCluster('SDCs on a Redis Cluster', () => {
  let redis: OwnRedisCluster | undefined;
  let cluster: TestCluster;
  let client: Cluster;
  let mdc: AdminClient;
  let siteA: AdminClient;
  let siteB: AdminClient;

  const audit = (domain: string) => auditOf(cluster.mdcDb.url, domain);

  /** Every key of a site, per master (by port) that holds some. */
  async function keysByNode(site: string): Promise<Map<string, string[]>> {
    const found = new Map<string, string[]>();
    for (const node of client.nodes('master')) {
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, page] = await node.scan(cursor, 'MATCH', `{${site}}:*`, 'COUNT', 1000);
        keys.push(...page);
        cursor = next;
      } while (cursor !== '0');
      if (keys.length > 0) found.set(String(node.options.port), keys);
    }
    return found;
  }

  const ready = (site: string) => fetch(`${cluster.url(site)}/health/ready`).then((r) => r.status);

  /** Waits until the site answers `path` with 200; resolves with that answer. */
  const answered = (admin: AdminClient, path: string) =>
    cluster.waitFor(async () => {
      const read = await admin.get(path);
      return read.status === 200 ? read : undefined;
    });

  /** A domain of the zone, created at the MDC and loaded by both sites. */
  async function domainAtSites(name: string): Promise<void> {
    expect((await mdc.post('/domains', { name })).status).toBe(201);
    for (const site of SITES) await cluster.drain(site, 20_000);
  }

  beforeAll(async () => {
    redis = await OwnRedisCluster.start();
    client = await redis.client();
    cluster = await TestCluster.start('redis-cluster', {
      sites: ['master', ...SITES],
      zones: [{ domain: 'acme', sites: SITES }],
      redisUrls: Object.fromEntries(SITES.map((site) => [site, redis!.url])),
      sdcEnv: { SYNC_INTERVAL_MS: '600000' },
    });
    mdc = cluster.admin('master');
    siteA = cluster.admin('site-a');
    siteB = cluster.admin('site-b');
    await domainAtSites('acme');
  }, 90_000);
  afterAll(async () => {
    client?.disconnect();
    await cluster?.stop();
    await redis?.destroy();
  });

  it("keeps each site's keys in the slot of its hash tag, on one master — the two sites on different ones", async () => {
    const nodes = new Map<string, string>();
    for (const site of SITES) {
      const byNode = await keysByNode(site);
      expect(byNode.size).toBe(1);
      const [[port, keys]] = [...byNode];
      nodes.set(site, port);
      // the cache, the queue's bookkeeping and BullMQ's sync queue
      expect(keys).toEqual(expect.arrayContaining([`{${site}}:meta`, `{${site}}:dom`]));
      expect(keys.some((k) => k.startsWith(`{${site}}:bull:`))).toBe(true);
      const slots = await Promise.all(keys.map((k) => client.call('CLUSTER', 'KEYSLOT', k)));
      expect(new Set(slots)).toEqual(new Set([keySlot(site)]));
    }
    // redis-cli spreads the slots evenly: site-a's (3838) and site-b's (16029) fall on different masters
    expect(nodes.get('site-a')).not.toBe(nodes.get('site-b'));
    for (const site of SITES) expect(await ready(site)).toBe(200);
  });

  it('shows a write at one site at the MDC and at the other site serving the domain', async () => {
    const res = await siteA.post('/domains/acme/entities', {
      kind: 'user',
      name: 'from-a',
      attributes: { n: 1 },
    });
    expect(res.status).toBe(201);
    await cluster.drain('site-a', 20_000);
    const atMdc = await mdc.get('/domains/acme/entities/user/from-a');
    expect(atMdc.status).toBe(200);
    // the MDC's change signal brings it to site-b without a cycle asked for
    const atB = await answered(siteB, '/domains/acme/entities/user/from-a');
    expect(atB.body).toEqual(atMdc.body);
  });

  it('brings a write at the MDC to the sites', async () => {
    const res = await mdc.post('/domains/acme/entities', { kind: 'user', name: 'from-mdc' });
    expect(res.status).toBe(201);
    for (const site of [siteA, siteB]) {
      const read = await answered(site, '/domains/acme/entities/user/from-mdc');
      expect(read.body).toEqual(res.body);
    }
  });

  it('queues writes while cut off from the MDC and drains them in order once back, each applied once', async () => {
    const domain = 'offline.acme';
    await domainAtSites(domain);
    const before = (await audit(domain)).length;
    cluster.cut('site-a');
    const names = Array.from({ length: 50 }, (_, i) => `q${i}`);
    for (const name of names) {
      const res = await siteA.post(`/domains/${domain}/entities`, { kind: 'user', name });
      expect([res.status, res.headers.get('x-sync-state')]).toEqual([201, 'pending']);
    }
    for (let n = 0; n < 10; n++) {
      const res = await siteA.patch(`/domains/${domain}/entities/user/q0`, { attributes: { n } });
      expect([res.status, res.headers.get('x-sync-state')]).toEqual([200, 'pending']);
    }
    expect((await cluster.sync('site-a')).lastCycle).toMatchObject({ ok: false, error: 'mdc_unreachable' });
    expect((await cluster.status('site-a')).queue.length).toBe(60);
    expect(await audit(domain)).toHaveLength(before);

    cluster.restore('site-a');
    await cluster.drain('site-a', 30_000);
    const applied = (await audit(domain)).slice(before);
    expect(applied).toHaveLength(60);
    expect(applied.map((r) => r.site)).toEqual(Array(60).fill('site-a'));
    const seqs = applied.map((r) => r.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(new Set(seqs).size).toBe(60);
    expect(applied.filter((r) => r.op === 'entity.create').map((r) => r.change.name)).toEqual(names);
    expect(applied.filter((r) => r.op === 'entity.update').map((r) => r.change.patch.n)).toEqual(
      Array.from({ length: 10 }, (_, n) => n),
    );
    const [atA, atMdc] = await Promise.all([
      siteA.get(`/domains/${domain}/entities/user/q0`),
      mdc.get(`/domains/${domain}/entities/user/q0`),
    ]);
    expect(atMdc.body.attributes).toEqual({ n: 9 });
    expect(atA.body).toEqual(atMdc.body);
    expect((await siteA.get('/sync/rejections')).body.items).toEqual([]);
  }, 90_000);

  it('applies every queued change exactly once when the SDC is killed (SIGKILL) mid-push', async () => {
    const domain = 'kill.acme';
    await domainAtSites(domain);
    cluster.cut('site-a');
    const names = Array.from({ length: QUEUED_BEFORE_KILL }, (_, i) => `k${i}`);
    await cluster.queueCreates('site-a', domain, names);
    expect(await client.llen('{site-a}:queue')).toBe(QUEUED_BEFORE_KILL);

    // Killed once part of the queue is acknowledged and the rest is not.
    const shrinking = await cluster.killMidPush('site-a', () => client.llen('{site-a}:queue'));
    expect(shrinking).toBeLessThan(QUEUED_BEFORE_KILL);
    await cluster.drain('site-a', 30_000);

    const creates = (await audit(domain)).filter((r) => r.op === 'entity.create');
    expect(creates).toHaveLength(QUEUED_BEFORE_KILL);
    expect(new Set(creates.map((r) => `${r.epoch}/${r.seq}`)).size).toBe(QUEUED_BEFORE_KILL);
    expect(creates.map((r) => r.change.name)).toEqual(names);
    expect((await siteA.get('/sync/rejections')).body.items).toEqual([]);
    for (const name of [names[0], names[QUEUED_BEFORE_KILL - 1]]) {
      const [here, there] = await Promise.all([
        siteA.get(`/domains/${domain}/entities/user/${name}`),
        mdc.get(`/domains/${domain}/entities/user/${name}`),
      ]);
      expect(there.status).toBe(200);
      expect(here.body).toEqual(there.body);
    }
  }, 120_000);

  describe('two SDC replicas of site-b on the cluster', () => {
    let second: SiteProcess | undefined;
    let other: AdminClient;

    beforeAll(async () => {
      const port = await freePort();
      second = SiteProcess.spawn('sdc(site-b#2)', SDC_MAIN, {
        ...cluster.envOf('site-b'),
        PORT: String(port),
      });
      await second.waitReady();
      other = new AdminClient(second.url, 'ops-token');
    });
    afterAll(() => second?.stop());

    it('gives concurrent writes at both replicas distinct seqs in one queue that drains to the MDC exactly once', async () => {
      const domain = 'replicas.acme';
      await domainAtSites(domain);
      cluster.cut('site-b');
      const answers = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          (i % 2 === 0 ? siteB : other).post(`/domains/${domain}/entities`, { kind: 'user', name: `r${i}` }),
        ),
      );
      expect(answers.map((a) => a.status)).toEqual(Array(30).fill(201));
      expect(new Set(answers.map((a) => a.body.version)).size).toBe(30);
      // Both replicas read the one cache: each sees the other's writes.
      expect((await other.get(`/domains/${domain}/entities/user/r0`)).status).toBe(200);
      expect((await siteB.get(`/domains/${domain}/entities/user/r1`)).status).toBe(200);
      expect((await other.get('/sync/status')).body.queue.length).toBe(30);

      cluster.restore('site-b');
      await cluster.drain('site-b', 30_000);
      const creates = (await audit(domain)).filter((r) => r.op === 'entity.create');
      expect(creates.map((r) => r.change.name).sort()).toEqual(
        Array.from({ length: 30 }, (_, i) => `r${i}`).sort(),
      );
      expect(new Set(creates.map((r) => r.seq)).size).toBe(30);
      expect((await other.get('/sync/rejections')).body.items).toEqual([]);
    }, 60_000);

    it('runs one sync cycle at a time for the site, whichever replica is asked', async () => {
      const [a, b] = await Promise.all([siteB.post('/sync/run', {}), other.post('/sync/run', {})]);
      expect([a.status, b.status]).toEqual([200, 200]);
      const [x, y] = [a.body.lastCycle, b.body.lastCycle];
      const [early, late] = Date.parse(x.at) <= Date.parse(y.at) ? [x, y] : [y, x];
      expect(Date.parse(late.at)).toBeGreaterThanOrEqual(Date.parse(early.at) + early.durationMs - 5);
    });
  });

  it('answers 503 store_unavailable while the master of its slot is frozen, the other site serving on', async () => {
    const port = nodeForKey(client, '{site-a}:meta').options.port!;
    redis!.freeze(port);
    try {
      const calls: Array<[string, () => Promise<Reply>]> = [
        ['GET an entity', () => siteA.get('/domains/acme/entities/user/from-a')],
        ['POST an entity', () => siteA.post('/domains/acme/entities', { kind: 'user', name: 'frozen' })],
      ];
      for (const [what, call] of calls) {
        const { reply, ms } = await timed(call);
        expectStoreUnavailable(what, reply);
        expect(ms).toBeLessThan(FROZEN_MS);
      }
      expect(await ready('site-a')).toBe(503);
      // site-b's keys are on another master
      expect((await siteB.get('/domains/acme/entities/user/from-a')).status).toBe(200);
      expect(await ready('site-b')).toBe(200);
    } finally {
      redis!.thaw(port);
    }
    await cluster.waitFor(async () => (await ready('site-a')) === 200, 5000);
    expect((await siteA.post('/domains/acme/entities', { kind: 'user', name: 'thawed' })).status).toBe(201);
    await cluster.drain('site-a', 20_000);
    expect((await mdc.get('/domains/acme/entities/user/thawed')).status).toBe(200);
  }, 30_000);

  it("loses only its own keys when the site's data is gone, and reloads them — the other site untouched", async () => {
    // site-a's cache and queue (its BullMQ keys come and go with its own cycles)
    const cacheOf = async (site: string) =>
      [...(await keysByNode(site))].map(([node, keys]) => [
        node,
        keys.filter((k) => !k.includes('}:bull:')).sort(),
      ]);
    const keysOfA = await cacheOf('site-a');
    await cluster.flushRedis('site-b');
    expect(await keysByNode('site-b')).toEqual(new Map());
    expect(await cacheOf('site-a')).toEqual(keysOfA);
    await cluster.drain('site-b', 30_000);
    const read = await siteB.get('/domains/acme/entities/user/from-a');
    expect([read.status, read.headers.get('x-served-by')]).toEqual([200, 'site-b']);
    expect((await keysByNode('site-b')).size).toBe(1);
  }, 60_000);

  it('comes back by itself when the master of its slot restarts empty: a new epoch, the scope reloaded', async () => {
    const port = nodeForKey(client, '{site-a}:meta').options.port!;
    const { epoch } = await cluster.status('site-a');
    await redis!.stopNode(port);
    expectStoreUnavailable('GET an entity', await siteA.get('/domains/acme/entities/user/from-a'));
    await redis!.startNode(port);
    await cluster.waitFor(async () => (await ready('site-a')) === 200, 15_000);
    await cluster.drain('site-a', 30_000);
    const read = await siteA.get('/domains/acme/entities/user/from-a');
    expect([read.status, read.headers.get('x-served-by')]).toEqual([200, 'site-a']);
    expect((await cluster.status('site-a')).epoch).not.toBe(epoch);
    const res = await siteA.post('/domains/acme/entities', { kind: 'user', name: 'after-restart' });
    expect(res.status).toBe(201);
    await cluster.drain('site-a', 20_000);
    expect((await mdc.get('/domains/acme/entities/user/after-restart')).status).toBe(200);
  }, 90_000);

  it('refuses to start on a Redis Cluster URL that names a logical database, naming REDIS_URL', async () => {
    const env = { ...cluster.envOf('site-a'), PORT: String(await freePort()), REDIS_URL: `${redis!.url}/2` };
    const proc = SiteProcess.spawn('sdc(site-a, redis-cluster /2)', SDC_MAIN, env);
    const exit = await proc.exited;
    await proc.closed;
    expect(exit.code).not.toBe(0);
    expect(proc.log).toMatch(/REDIS_URL: a Redis Cluster has no logical databases/);
  });
});
