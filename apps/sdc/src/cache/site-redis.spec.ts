import Redis, { Cluster } from 'ioredis';
import { EnvError } from '@dd/admin-api';
import { CacheKeys } from './cache-keys';
import { clusterSeeds, keySlot, NoNodeForSlotError, nodeForKey } from './site-redis';

/** SPEC §4: REDIS_URL names one Redis (a logical database of it) or a Redis Cluster by its seed nodes. */
describe('clusterSeeds', () => {
  it('reads the seed nodes of a redis-cluster:// URL', () => {
    expect(clusterSeeds('redis-cluster://10.0.0.1:7000,redis-b:7001,[::1]:7002')).toEqual({
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: 'redis-b', port: 7001 },
        { host: '::1', port: 7002 },
      ],
    });
  });

  it('reads credentials given once for every node', () => {
    expect(clusterSeeds('redis-cluster://dd:s%40cret@h:7000')).toEqual({
      nodes: [{ host: 'h', port: 7000 }],
      username: 'dd',
      password: 's@cret',
    });
    expect(clusterSeeds('redis-cluster://:secret@h:7000')).toMatchObject({ password: 'secret' });
  });

  it('leaves a URL of one Redis to ioredis', () => {
    expect(clusterSeeds('redis://127.0.0.1:6379/2')).toBeUndefined();
    expect(clusterSeeds('rediss://h:6380')).toBeUndefined();
  });

  it.each([
    ['a logical database', 'redis-cluster://h:7000/2', /no logical databases/],
    ['a database after several seeds', 'redis-cluster://h:7000,h:7001/0', /no logical databases/],
    ['options', 'redis-cluster://h:7000?tls=1', /no path or options/],
    ['a seed without its port', 'redis-cluster://h', /"h" is not a host:port/],
    ['an empty seed', 'redis-cluster://h:7000,,h:7001', /"" is not a host:port/],
    ['a port out of range', 'redis-cluster://h:70000', /"h:70000" is not a host:port/],
    ['no seed at all', 'redis-cluster://', /is not a host:port/],
  ])('refuses %s at start, naming REDIS_URL', (_, url, why) => {
    const refuse = () => clusterSeeds(url);
    expect(refuse).toThrow(EnvError);
    expect(refuse).toThrow(/^environment variable REDIS_URL: /);
    expect(refuse).toThrow(why);
  });
});

describe('keySlot', () => {
  it('is the slot Redis computes (CLUSTER KEYSLOT), by the hash tag when there is one', () => {
    expect(keySlot('foo')).toBe(12182);
    expect(keySlot('{user1000}.following')).toBe(keySlot('user1000'));
  });

  it("puts every key of a site in the slot of the site's hash tag", () => {
    const keys = new CacheKeys('site-a');
    const slot = keySlot('site-a');
    for (const key of [keys.meta, keys.queue, keys.entities('acme'), keys.kids(null), keys.cycleLock])
      expect(keySlot(key)).toBe(slot);
  });
});

describe('nodeForKey', () => {
  it('is the client itself on one Redis', () => {
    const redis = new Redis({ lazyConnect: true });
    expect(nodeForKey(redis, '{site-a}:meta')).toBe(redis);
  });

  it('fails as a store outage while a cluster knows no master for the slot', () => {
    const cluster = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true });
    expect(() => nodeForKey(cluster, '{site-a}:meta')).toThrow(NoNodeForSlotError);
  });
});
