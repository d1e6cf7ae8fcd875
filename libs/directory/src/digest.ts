/**
 * SPEC §8: the manifest's digests. Additive (a count and a sum mod 2^64 of element hashes), so a
 * store keeps them incrementally on every write and a scrub recomputes them from the data itself,
 * with the same result either way.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json';
import type { Domain, Entity } from './model';

/** The digest of one domain: its own record and each of its live entities. */
export interface DomainDigest {
  count: number;
  /** sum mod 2^64 of the element hashes, as a decimal string */
  sum: string;
}

export const EMPTY_DIGEST: DomainDigest = Object.freeze({ count: 0, sum: '0' });

function sha256Uint64(text: string): bigint {
  return createHash('sha256').update(text, 'utf8').digest().readBigUInt64BE(0);
}

function uint64(n: bigint): bigint {
  return BigInt.asUintN(64, n);
}

function isEntity(o: Domain | Entity): o is Entity {
  return 'kind' in o;
}

/** The hash of one live object: its content, without the timestamps (which sites need not agree on). */
export function elementHash(o: Domain | Entity): bigint {
  if (isEntity(o)) {
    const { id, domain, kind, name, attributes, version } = o;
    return sha256Uint64(
      'entity\n' + id + '\n' + canonicalJson({ id, domain, kind, name, attributes, version }),
    );
  }
  const { id, name, parent, settings, version } = o;
  return sha256Uint64('domain\n' + id + '\n' + canonicalJson({ id, name, parent, settings, version }));
}

export function addElement(d: DomainDigest, hash: bigint): DomainDigest {
  return { count: d.count + 1, sum: uint64(BigInt(d.sum) + hash).toString() };
}

export function removeElement(d: DomainDigest, hash: bigint): DomainDigest {
  return { count: d.count - 1, sum: uint64(BigInt(d.sum) - hash).toString() };
}

/** The digest recomputed from scratch: the domain's record (when it exists) plus one per entity. */
export function computeDomainDigest(domain: Domain | undefined, entities: Entity[]): DomainDigest {
  let digest = domain ? addElement(EMPTY_DIGEST, elementHash(domain)) : EMPTY_DIGEST;
  for (const entity of entities) digest = addElement(digest, elementHash(entity));
  return digest;
}

export function digestsEqual(a: DomainDigest, b: DomainDigest): boolean {
  return a.count === b.count && BigInt(a.sum) === BigInt(b.sum);
}

/** One value over a whole scope, independent of order, so a no-change cycle compares one string. */
export function rootDigest(digests: Iterable<[domainName: string, DomainDigest]>): string {
  let root = 0n;
  for (const [name, d] of digests) {
    root = uint64(root + sha256Uint64(name + '\n' + d.count + '\n' + BigInt(d.sum).toString()));
  }
  return root.toString(16).padStart(16, '0');
}
