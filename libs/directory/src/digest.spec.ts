import {
  addElement,
  computeDomainDigest,
  digestsEqual,
  type DomainDigest,
  elementHash,
  EMPTY_DIGEST,
  removeElement,
  rootDigest,
} from './digest';
import type { Domain, Entity } from './model';

const T = '2024-01-01T00:00:00.000Z';

function domain(name: string, version = '1', settings = {}): Domain {
  return { id: `id-${name}`, name, parent: null, settings, version, createdAt: T, updatedAt: T };
}

function entity(domainName: string, n: number, version = '1', attributes = {}): Entity {
  return {
    id: `e-${domainName}-${n}`,
    domain: domainName,
    kind: 'user',
    name: `u${n}`,
    attributes,
    version,
    createdAt: T,
    updatedAt: T,
  };
}

/** A small deterministic generator, so a failure replays. */
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
}

describe('element hashes (SPEC §8)', () => {
  it('is a uint64', () => {
    const h = elementHash(domain('acme'));
    expect(h).toBeGreaterThanOrEqual(0n);
    expect(h).toBeLessThan(2n ** 64n);
  });

  it('ignores the timestamps', () => {
    const e = entity('acme', 1);
    expect(elementHash({ ...e, createdAt: 'x', updatedAt: 'y' })).toBe(elementHash(e));
  });

  it('ignores key order inside attributes', () => {
    expect(elementHash(entity('acme', 1, '1', { a: 1, b: 2 }))).toBe(
      elementHash(entity('acme', 1, '1', { b: 2, a: 1 })),
    );
  });

  it('changes with the version, the attributes, the settings', () => {
    const e = entity('acme', 1);
    expect(elementHash({ ...e, version: '2' })).not.toBe(elementHash(e));
    expect(elementHash({ ...e, attributes: { a: 1 } })).not.toBe(elementHash(e));
    const d = domain('acme');
    expect(elementHash({ ...d, settings: { a: 1 } })).not.toBe(elementHash(d));
  });

  it('tells a domain from an entity', () => {
    expect(elementHash(domain('acme'))).not.toBe(elementHash(entity('acme', 1)));
  });
});

describe('domain digests (SPEC §8)', () => {
  it('starts empty', () => {
    expect(EMPTY_DIGEST).toEqual({ count: 0, sum: '0' });
    expect(computeDomainDigest(undefined, [])).toEqual(EMPTY_DIGEST);
  });

  it('counts the domain record and each entity', () => {
    const d = domain('acme');
    expect(computeDomainDigest(d, [entity('acme', 1), entity('acme', 2)]).count).toBe(3);
  });

  it('wraps around mod 2^64 both ways', () => {
    const max = 2n ** 64n - 1n;
    const d = addElement({ count: 1, sum: max.toString() }, 2n);
    expect(d).toEqual({ count: 2, sum: '1' });
    expect(removeElement(d, 2n)).toEqual({ count: 1, sum: max.toString() });
    expect(removeElement(EMPTY_DIGEST, 1n)).toEqual({ count: -1, sum: max.toString() });
  });

  it('adding then removing gives back the same digest', () => {
    const base = computeDomainDigest(domain('acme'), [entity('acme', 1)]);
    const h = elementHash(entity('acme', 2));
    expect(removeElement(addElement(base, h), h)).toEqual(base);
  });

  it('compares by count and sum', () => {
    expect(digestsEqual({ count: 1, sum: '5' }, { count: 1, sum: '5' })).toBe(true);
    expect(digestsEqual({ count: 1, sum: '5' }, { count: 2, sum: '5' })).toBe(false);
    expect(digestsEqual({ count: 1, sum: '5' }, { count: 1, sum: '6' })).toBe(false);
  });

  it('kept incrementally over random creates, patches and deletes equals the digest recomputed from scratch', () => {
    const next = random(42);
    const names = ['acme', 'globex', 'initech'];
    const domains = new Map(names.map((n) => [n, domain(n)]));
    const entities = new Map<string, Entity>();
    const kept = new Map<string, DomainDigest>(
      names.map((n) => [n, addElement(EMPTY_DIGEST, elementHash(domains.get(n)!))]),
    );
    let version = 1;

    for (let step = 0; step < 2000; step++) {
      const name = names[Math.floor(next() * names.length)];
      const digest = kept.get(name)!;
      const mine = [...entities.values()].filter((e) => e.domain === name);
      const roll = next();
      version++;
      if (roll < 0.4 || mine.length === 0) {
        const e = entity(name, step, String(version), { n: step });
        entities.set(e.id, e);
        kept.set(name, addElement(digest, elementHash(e)));
      } else if (roll < 0.7) {
        const old = mine[Math.floor(next() * mine.length)];
        const patched = { ...old, version: String(version), attributes: { ...old.attributes, p: next() } };
        entities.set(old.id, patched);
        kept.set(name, addElement(removeElement(digest, elementHash(old)), elementHash(patched)));
      } else if (roll < 0.9) {
        const old = mine[Math.floor(next() * mine.length)];
        entities.delete(old.id);
        kept.set(name, removeElement(digest, elementHash(old)));
      } else {
        const old = domains.get(name)!;
        const patched = { ...old, version: String(version), settings: { s: step } };
        domains.set(name, patched);
        kept.set(name, addElement(removeElement(digest, elementHash(old)), elementHash(patched)));
      }
    }

    for (const name of names) {
      const fromScratch = computeDomainDigest(
        domains.get(name),
        [...entities.values()].filter((e) => e.domain === name),
      );
      expect(kept.get(name)).toEqual(fromScratch);
      expect(digestsEqual(kept.get(name)!, fromScratch)).toBe(true);
    }
    const scratchRoot = rootDigest(
      names.map((n) => [
        n,
        computeDomainDigest(
          domains.get(n),
          [...entities.values()].filter((e) => e.domain === n),
        ),
      ]),
    );
    expect(rootDigest(kept)).toBe(scratchRoot);
  });
});

describe('root digest (SPEC §8)', () => {
  const acme = domain('acme');
  const globex = domain('globex');
  const acmeEntities = [entity('acme', 1), entity('acme', 2)];
  const globexEntities = [entity('globex', 1)];
  const scope = (a: Entity[], g: Entity[]): [string, DomainDigest][] => [
    ['acme', computeDomainDigest(acme, a)],
    ['globex', computeDomainDigest(globex, g)],
  ];

  it('is 16 zeros for an empty scope', () => {
    expect(rootDigest([])).toBe('0000000000000000');
  });

  it('is 16 hex characters', () => {
    expect(rootDigest(scope(acmeEntities, globexEntities))).toMatch(/^[0-9a-f]{16}$/);
  });

  it('does not depend on the order of domains or of entities', () => {
    const forward = scope(acmeEntities, globexEntities);
    expect(rootDigest([...forward].reverse())).toBe(rootDigest(forward));
    expect(rootDigest(scope([...acmeEntities].reverse(), globexEntities))).toBe(rootDigest(forward));
  });

  it('changing one entity changes exactly its domain digest and the root', () => {
    const before = scope(acmeEntities, globexEntities);
    const changed = { ...acmeEntities[1], version: '2', attributes: { mail: 'x@acme' } };
    const after = scope([acmeEntities[0], changed], globexEntities);
    expect(digestsEqual(after[0][1], before[0][1])).toBe(false);
    expect(after[1][1]).toEqual(before[1][1]);
    expect(rootDigest(after)).not.toBe(rootDigest(before));
  });

  it('sees a domain that moved its digest to another name', () => {
    const d = computeDomainDigest(acme, acmeEntities);
    expect(rootDigest([['acme', d]])).not.toBe(rootDigest([['globex', d]]));
  });

  it('sees an empty domain', () => {
    expect(rootDigest([['acme', EMPTY_DIGEST]])).not.toBe(rootDigest([]));
  });
});
