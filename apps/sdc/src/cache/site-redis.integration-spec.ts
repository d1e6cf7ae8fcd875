import { Cluster } from 'ioredis';
import { EnvError, SiteEnv } from '@dd/admin-api';
import { waitFor } from '../../../../test/harness/cluster';
import { missingRedisClusterBinaries, OwnRedisCluster } from '../../../../test/harness/own-servers';
import { SiteCacheStore } from './site-cache.store';
import { keySlot, nodeForKey, REDIS_COMMAND_TIMEOUT_MS, SiteRedis } from './site-redis';
import { isRedisFailure } from './store-failure';

const missing = missingRedisClusterBinaries();
if (missing.length > 0)
  console.log(
    `apps/sdc/src/cache/site-redis.integration-spec.ts skipped: ${missing.join(' and ')} not on PATH`,
  );
const describeOnCluster = missing.length === 0 ? describe : describe.skip;

const envOf = (redisUrl: string): SiteEnv => ({
  siteId: 'site-a',
  configFile: 'unused.yml',
  port: 4000,
  siteKeyFile: undefined,
  logLevel: 'silent',
  syncIntervalMs: undefined,
  databaseQueryTimeoutMs: 0,
  databaseUrl: undefined,
  redisUrl,
  snapshotPage: undefined,
  requestTimeoutMs: 30_000,
  trafficDir: undefined,
});

/** SPEC §4, §11: the site's own connection to a 3-master Redis Cluster, as the SDC makes it. */
describeOnCluster('SiteRedis on a Redis Cluster', () => {
  let cluster: OwnRedisCluster;
  let redis: SiteRedis;
  let store: SiteCacheStore;

  beforeAll(async () => {
    cluster = await OwnRedisCluster.start();
    redis = new SiteRedis(envOf(cluster.url));
    await redis.onModuleInit();
    store = new SiteCacheStore(redis.client, 'site-a');
  }, 60_000);
  afterAll(async () => {
    redis?.onApplicationShutdown();
    await cluster?.destroy();
  });

  it('connects a Cluster client from the seed nodes of REDIS_URL', () => {
    expect(redis.client).toBeInstanceOf(Cluster);
    expect((redis.client as Cluster).nodes('master')).toHaveLength(3);
  });

  it("finds the master that holds a key's slot", async () => {
    await redis.client.set('{site-a}:probe', '1');
    const owner = nodeForKey(redis.client, '{site-a}:probe');
    expect(await owner.exists('{site-a}:probe')).toBe(1);
    expect(await owner.call('CLUSTER', 'COUNTKEYSINSLOT', String(keySlot('site-a')))).toBeGreaterThan(0);
    for (const node of (redis.client as Cluster).nodes('master').filter((n) => n !== owner))
      expect(await node.call('CLUSTER', 'COUNTKEYSINSLOT', String(keySlot('site-a')))).toBe(0);
  });

  it("drops a cache of the older layout from the master that holds the site's keys, no other site's", async () => {
    const k = store.keys;
    // site-b's slot is on another master: SCAN on a random node would miss one or the other
    expect(nodeForKey(redis.client, '{site-b}:x')).not.toBe(nodeForKey(redis.client, k.meta));
    await redis.client.hset(k.meta, 'loaded', '1', 'cursor', '42', 'epoch', 'e-1', 'seq', '7');
    await redis.client.hset(k.entities('corp'), 'user\u0000x', '{}');
    await redis.client.rpush(k.queue, '{"seq":7}');
    await redis.client.set('{site-b}:ent:corp', 'kept');
    expect(await store.ensureLayout()).toBe(true);
    expect(await redis.client.exists(k.entities('corp'))).toBe(0);
    expect(await redis.client.lrange(k.queue, 0, -1)).toEqual(['{"seq":7}']);
    expect(await redis.client.get('{site-b}:ent:corp')).toBe('kept');
    expect(await store.meta()).toMatchObject({ loaded: false, cursor: '0', epoch: 'e-1', seq: 7 });
    expect(await store.ensureLayout()).toBe(false);
  });

  it('commits a plan with the CAS script and reads it back in one pipeline', async () => {
    const { meta } = await store.writeState();
    const plan = store.plan().setStatus('probe', 'yes').enqueue('{"seq":8}', 10);
    expect(await store.commit(plan, meta.gen)).toBe('ok');
    expect(await store.commit(store.plan().setStatus('probe', 'no'), meta.gen)).toBe('conflict');
    expect((await store.writeState()).queueLength).toBe(2);
    expect(await store.status()).toMatchObject({ probe: 'yes' });
  });

  it('gives up within its command timeout while that master is frozen — a store outage — and serves after', async () => {
    const port = nodeForKey(redis.client, store.keys.meta).options.port!;
    cluster.freeze(port);
    try {
      for (const call of [() => store.meta(), () => store.ping()]) {
        const started = Date.now();
        const failure = await call().then(
          () => undefined,
          (err: unknown) => err,
        );
        expect(isRedisFailure(failure)).toBe(true);
        expect(Date.now() - started).toBeLessThan(REDIS_COMMAND_TIMEOUT_MS + 1000);
      }
    } finally {
      cluster.thaw(port);
    }
    await store.ping();
    expect(await store.meta()).toMatchObject({ seq: 7 });
  }, 20_000);

  it('finds the master of its slot again once it is back, asked nothing in between', async () => {
    const port = nodeForKey(redis.client, store.keys.meta).options.port!;
    await cluster.stopNode(port);
    const failure = await store.ping().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(isRedisFailure(failure)).toBe(true);
    await cluster.startNode(port);
    // only pings: the site's readiness comes back by itself (the slots are read again)
    await waitFor(() => store.ping().then(() => true), 10_000);
    expect(nodeForKey(redis.client, store.keys.meta).options.port).toBe(port);
  }, 30_000);

  it('refuses a logical database in a redis-cluster:// REDIS_URL', () => {
    expect(() => new SiteRedis(envOf(`${cluster.url}/1`))).toThrow(EnvError);
  });
});
