import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { computeBucketDigests, computeDomainDigest, Domain, Entity } from '@dd/directory';
import type { PulledChange } from '@dd/sync-protocol';
import { createTestRedisDb, TestRedisDb } from '../../../../test/harness/services';
import { hashHex } from '../cache/cache-plan';
import { SiteCacheStore } from '../cache/site-cache.store';
import { Resync } from './resync';

const at = '2026-01-01T00:00:00.000Z';

function domain(name: string): Domain {
  return { id: randomUUID(), name, parent: null, settings: {}, version: '1', createdAt: at, updatedAt: at };
}

function entity(domainName: string, name: string, version = '1'): Entity {
  const e = { id: randomUUID(), domain: domainName, kind: 'user', name, attributes: { n: name }, version };
  return { ...e, createdAt: at, updatedAt: at };
}

/** A site's cache holding `size` entities in `big`, and a few in `small` (the one a page deletes). */
async function seeded(redis: Redis, site: string, size: number) {
  const store = new SiteCacheStore(redis, site);
  const big = domain('big');
  const small = domain('small');
  const bigEntities = Array.from({ length: size }, (_, i) => entity('big', `u${i}`));
  const smallEntities = Array.from({ length: 5 }, (_, i) => entity('small', `s${i}`));
  const plan = store.plan();
  for (const [d, entities] of [
    [big, bigEntities],
    [small, smallEntities],
  ] as const) {
    plan.putDomain({ domain: d, scoped: true, h: hashHex(d) });
    for (const e of entities) plan.putEntity({ entity: e, h: hashHex(e) });
    plan.setDigest(d.name, computeDomainDigest(d, entities));
    for (const [b, digest] of computeBucketDigests(entities)) plan.setBucketDigest(d.name, b, digest);
  }
  expect(await store.commit(plan, false)).toBe('ok');
  return { store, big, small, bigEntities };
}

/** Counts every command this connection sends (a pipeline's commands one by one). */
function counting(redis: Redis): { count: () => number; reset: () => void } {
  let sent = 0;
  const send = redis.sendCommand.bind(redis);
  redis.sendCommand = ((...args: Parameters<Redis['sendCommand']>) => {
    sent++;
    return send(...args);
  }) as Redis['sendCommand'];
  return { count: () => sent, reset: () => (sent = 0) };
}

/** The same shape of page whatever the cache holds: updates, creates, deletes, a domain dropped. */
function page(big: Domain, small: Domain, bigEntities: Entity[]): PulledChange[] {
  const changes: PulledChange[] = [];
  for (const e of bigEntities.slice(0, 40))
    changes.push({
      type: 'entity.put',
      version: '2',
      entity: { ...e, attributes: { n: 'new' }, version: '2' },
    });
  for (let i = 0; i < 40; i++)
    changes.push({ type: 'entity.put', version: '2', entity: entity('big', `new${i}`, '2') });
  for (const e of bigEntities.slice(40, 60))
    changes.push({ type: 'entity.delete', version: '2', id: e.id, domain: 'big' });
  changes.push({
    type: 'domain.put',
    version: '2',
    domain: { ...big, settings: { x: 1 }, version: '2' },
    scoped: true,
  });
  changes.push({ type: 'domain.delete', version: '2', id: small.id, name: small.name });
  return changes;
}

describe('a pulled page against a real Redis', () => {
  let db: TestRedisDb;
  let redis: Redis;

  beforeAll(async () => {
    db = await createTestRedisDb('pulledpage');
    redis = new Redis(db.url);
  });
  afterAll(async () => {
    redis.disconnect();
    await db.release();
  });

  it('sends the same few Redis commands with 1k and with 20k entities cached', async () => {
    const sent = counting(redis);
    const counts: number[] = [];
    for (const [site, size] of [
      ['site-1k', 1000],
      ['site-20k', 20000],
    ] as const) {
      const { store, big, small, bigEntities } = await seeded(redis, site, size);
      const changes = page(big, small, bigEntities);
      sent.reset();
      expect(await new Resync(store).applyPulled(changes, '2')).toBe(changes.length);
      counts.push(sent.count());

      // and the page landed: objects, indexes and digests as the MDC has them
      expect((await store.entityById('big', bigEntities[0].id))?.entity.attributes).toEqual({ n: 'new' });
      expect(await store.entityById('big', bigEntities[40].id)).toBeUndefined();
      expect(await store.entity('big', 'user', 'new0')).toBeDefined();
      expect(await store.domain('small')).toBeUndefined();
      expect(await store.entitiesOf('small')).toEqual([]);
      expect((await store.domain('big'))?.domain.settings).toEqual({ x: 1 });
      const entities = (await store.entitiesOf('big')).map((e) => e.entity);
      expect(entities).toHaveLength(size + 40 - 20);
      const bigNow = (await store.domain('big'))!.domain;
      expect((await store.digests()).get('big')).toEqual(computeDomainDigest(bigNow, entities));
      expect((await store.digests()).has('small')).toBe(false);
      expect(await store.bucketDigests('big')).toEqual(computeBucketDigests(entities));
      expect(await store.bucketDigests('small')).toEqual(new Map());
      expect((await store.meta()).cursor).toBe('2');
    }
    expect(counts[1]).toBe(counts[0]);
    expect(counts[0]).toBeLessThanOrEqual(12);
  });
});
