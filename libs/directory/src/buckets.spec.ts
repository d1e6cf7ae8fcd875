import { type BatchLedger, bucketMoves } from './batch';
import {
  applyDelta,
  bucketOf,
  computeBucketDigests,
  computeDomainDigest,
  DIGEST_BUCKETS,
  digestDelta,
  digestsEqual,
  type DomainDigest,
  EMPTY_DIGEST,
  sumDigests,
  addElement,
  elementHash,
} from './digest';
import type { Domain, Entity } from './model';

const T = '2024-01-01T00:00:00.000Z';
const domain: Domain = {
  id: 'd-1',
  name: 'acme',
  parent: null,
  settings: {},
  version: '1',
  createdAt: T,
  updatedAt: T,
};

function entity(n: number, version = '1', domainName = 'acme'): Entity {
  const hex = n.toString(16).padStart(12, '0');
  return {
    id: `00000000-0000-4000-8000-${hex}`,
    domain: domainName,
    kind: 'user',
    name: `u${n}`,
    attributes: { n },
    version,
    createdAt: T,
    updatedAt: T,
  };
}

function ledgerOf(
  entities: Array<{ before?: Entity; after: Entity; deleted?: boolean }>,
  domains: Array<{ before?: Domain; after: Domain; deleted: boolean }> = [],
) {
  const ledger: Pick<BatchLedger, 'domains' | 'entities'> = { domains: new Map(), entities: new Map() };
  for (const t of entities)
    ledger.entities.set(t.after.id, { before: t.before, after: t.after, deleted: t.deleted ?? false });
  for (const t of domains)
    ledger.domains.set(t.after.id, { before: t.before, after: t.after, deleted: t.deleted });
  return ledger;
}

/** Applies moves to the per-bucket digests a store holds. */
function applied(
  held: Map<number, DomainDigest>,
  moves: Map<number, DomainDigest> | undefined,
): Map<number, DomainDigest> {
  const out = new Map(held);
  for (const [b, d] of moves ?? []) out.set(b, applyDelta(out.get(b) ?? EMPTY_DIGEST, d));
  for (const [b, d] of out) if (d.count === 0) out.delete(b);
  return out;
}

function sameBuckets(a: Map<number, DomainDigest>, b: Map<number, DomainDigest>): boolean {
  return a.size === b.size && [...a].every(([k, d]) => b.has(k) && digestsEqual(d, b.get(k)!));
}

describe('digest buckets (SPEC §8 scale)', () => {
  it('puts an id in one of 256 buckets, the first byte of MD5 of its lowercase text — as PostgreSQL computes it', () => {
    // get_byte(decode(md5('6f1c1e6e-0b0a-4e55-9d59-4b2a8c1b2c3d'), 'hex'), 0) = 91
    expect(bucketOf('6f1c1e6e-0b0a-4e55-9d59-4b2a8c1b2c3d')).toBe(91);
    expect(bucketOf('6F1C1E6E-0B0A-4E55-9D59-4B2A8C1B2C3D')).toBe(91);
    const seen = new Set(Array.from({ length: 5000 }, (_, i) => bucketOf(entity(i).id)));
    expect(DIGEST_BUCKETS).toBe(256);
    expect(seen.size).toBe(256); // spread over every bucket
    expect(Math.max(...seen)).toBeLessThan(DIGEST_BUCKETS);
  });

  it('splits a domain digest: its record plus the sum of its bucket digests', () => {
    const entities = Array.from({ length: 700 }, (_, i) => entity(i));
    const buckets = computeBucketDigests(entities);
    const whole = computeDomainDigest(domain, entities);
    expect(digestsEqual(addElement(sumDigests(buckets.values()), elementHash(domain)), whole)).toBe(true);
    expect([...buckets.values()].reduce((n, d) => n + d.count, 0)).toBe(700);
  });

  it('moves exactly the buckets a batch touched, so stores kept by moves equal a recount (random batches)', () => {
    let state = new Map(Array.from({ length: 300 }, (_, i) => [entity(i).id, entity(i)] as const));
    let held = computeBucketDigests(state.values());
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    for (let round = 0; round < 50; round++) {
      const touched: Array<{ before?: Entity; after: Entity; deleted?: boolean }> = [];
      const next = new Map(state);
      for (let k = 0; k < 20; k++) {
        const n = Math.floor(rand() * 400);
        const before = next.get(entity(n).id);
        const r = rand();
        if (before && r < 0.4) {
          next.delete(before.id);
          touched.push({ before: state.get(before.id), after: before, deleted: true });
        } else {
          const after = entity(n, String(round + 2));
          next.set(after.id, after);
          touched.push({ before: state.get(after.id), after });
        }
      }
      // one entry per object, as a ledger holds them (the first before, the last after)
      const byId = new Map<string, { before?: Entity; after: Entity; deleted?: boolean }>();
      for (const t of touched)
        byId.set(t.after.id, { ...t, before: byId.get(t.after.id)?.before ?? t.before });
      for (const [id, t] of byId) t.before = state.get(id);
      const { moves } = bucketMoves(ledgerOf([...byId.values()]));
      held = applied(held, moves.get('acme'));
      state = next;
      expect(sameBuckets(held, computeBucketDigests(state.values()))).toBe(true);
    }
  });

  it('leaves out moves that cancel, and drops every bucket of a domain that is gone', () => {
    const e = entity(1);
    const same = bucketMoves(ledgerOf([{ before: e, after: e }]));
    expect(same.moves.size).toBe(0);
    const gone = bucketMoves(
      ledgerOf(
        [{ before: e, after: e, deleted: true }, { after: entity(2, '1', 'other') }],
        [{ before: domain, after: domain, deleted: true }],
      ),
    );
    expect(gone.goneDomains).toEqual(['acme']);
    expect([...gone.moves.keys()]).toEqual(['other']);
  });

  it('delta and apply are inverses mod 2^64', () => {
    const a = { count: 3, sum: '18446744073709551615' };
    const b = { count: 5, sum: '12' };
    expect(digestsEqual(applyDelta(b, digestDelta(a, b)), a)).toBe(true);
    expect(digestDelta(b, a).sum).toBe('13');
  });
});
