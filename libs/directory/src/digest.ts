/**
 * SPEC §8: the manifest's digests. Additive (a count and a sum mod 2^64 of element hashes), so a
 * store keeps them incrementally on every write and a scrub recomputes them from the data itself,
 * with the same result either way.
 */
import { hash as oneShot } from 'node:crypto';
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
  // one-shot hashing: no Hash object per element (a page hashes thousands)
  return (oneShot('sha256', text, 'buffer') as Buffer).readBigUInt64BE(0);
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

/**
 * SPEC §8 scale: each domain's entities are split into buckets by a hash of their id, each with its
 * own additive digest, so the manifest can narrow a difference to buckets and a repair can move
 * only those. The domain's own record counts in the domain digest alone:
 * domain digest = its record + Σ bucket digests.
 */
export const DIGEST_BUCKETS = 256;

/** The bucket of an entity id: the first byte of the MD5 of its lowercase text (PostgreSQL computes the same). */
export function bucketOf(id: string): number {
  return (oneShot('md5', id.toLowerCase(), 'buffer') as Buffer)[0];
}

/** Bucket digests recomputed from scratch (empty buckets are left out). */
export function computeBucketDigests(
  entities: Iterable<Entity>,
  hash: (o: Entity) => bigint = elementHash,
): Map<number, DomainDigest> {
  const out = new Map<number, DomainDigest>();
  for (const e of entities) {
    const b = bucketOf(e.id);
    out.set(b, addElement(out.get(b) ?? EMPTY_DIGEST, hash(e)));
  }
  return out;
}

/** The sum of digests (the domain digest of a record-less domain from its buckets). */
export function sumDigests(digests: Iterable<DomainDigest>): DomainDigest {
  let count = 0;
  let sum = 0n;
  for (const d of digests) {
    count += d.count;
    sum = uint64(sum + BigInt(d.sum));
  }
  return { count, sum: sum.toString() };
}

/** `a − b`, element-wise (mod 2^64): what moves a digest from b to a. */
export function digestDelta(a: DomainDigest, b: DomainDigest): DomainDigest {
  return { count: a.count - b.count, sum: uint64(BigInt(a.sum) - BigInt(b.sum)).toString() };
}

export function applyDelta(d: DomainDigest, delta: DomainDigest): DomainDigest {
  return { count: d.count + delta.count, sum: uint64(BigInt(d.sum) + BigInt(delta.sum)).toString() };
}

/** `{0, 0}`: a bucket with nothing in it, or no move at all. */
export function isEmptyDigest(d: DomainDigest): boolean {
  return d.count === 0 && BigInt(d.sum) === 0n;
}
