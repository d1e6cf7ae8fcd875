import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import type { Domain, DomainDigest, Entity } from '@dd/directory';
import type { BucketDigest, SnapshotCursor } from '@dd/sync-protocol';
import { DomainRecord, EntityRecord, toDomain, toEntity } from '../directory/rows';

export interface LogRow {
  version: string;
  objectType: 'domain' | 'entity';
  objectId: string;
}

export interface CurrentDomain {
  domain: Domain;
  deleted: boolean;
}
/** A page of entities in snapshot order, and where the last one stands in it (null: none). */
export interface EntityPage {
  entities: Entity[];
  last: SnapshotCursor | null;
}

/** A domain and one of its buckets, in snapshot order. */
export interface Slice {
  domain: string;
  bucket: number;
}

export interface CurrentEntity {
  entity: Entity;
  deleted: boolean;
}

type SnapshotRecord = EntityRecord & { bucket: number };
const SNAPSHOT_SELECT = `SELECT id, domain, kind, name, attributes, version, created_at, updated_at, deleted_at, bucket
  FROM entities WHERE deleted_at IS NULL`;

function page(rows: SnapshotRecord[]): EntityPage {
  const last = rows.at(-1);
  return {
    entities: rows.map(toEntity),
    last: last ? { domain: last.domain, bucket: last.bucket, id: last.id } : null,
  };
}

/** What sites read from DomainDB (SPEC §8): the change log, current states, digests, snapshots. */
@Injectable()
export class SiteFeedStore {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** One consistent snapshot of DomainDB for several reads. */
  consistent<T>(work: (tx: EntityManager) => Promise<T>): Promise<T> {
    return this.db.transaction('REPEATABLE READ', work);
  }

  async head(tx: EntityManager): Promise<bigint> {
    const [row] = await tx.query(`SELECT value FROM version_counter WHERE id = 1`);
    return BigInt(row.value);
  }

  /** The highest version whose change-log rows may have been purged (0: none ever were). */
  async purgedThrough(tx: EntityManager): Promise<bigint> {
    const [row] = await tx.query(`SELECT value FROM sync_meta WHERE key = 'purged_through'`);
    return row ? BigInt(row.value) : 0n;
  }

  /** The log rows of the first `limit` versions after the cursor (a version is never split across pages). */
  async logSince(
    tx: EntityManager,
    cursor: bigint,
    limit: number,
  ): Promise<{ rows: LogRow[]; versions: number }> {
    const rows: Array<{ version: string; object_type: 'domain' | 'entity'; object_id: string; n: string }> =
      await tx.query(
        `WITH page AS (SELECT DISTINCT version FROM change_log WHERE version > $1 ORDER BY version LIMIT $2)
       SELECT c.version, c.object_type, c.object_id, (SELECT count(*) FROM page) AS n
         FROM change_log c WHERE c.version IN (SELECT version FROM page) ORDER BY c.version`,
        [cursor.toString(), limit],
      );
    return {
      rows: rows.map((r) => ({
        version: String(r.version),
        objectType: r.object_type,
        objectId: r.object_id,
      })),
      versions: rows.length > 0 ? Number(rows[0].n) : 0,
    };
  }

  async domainsById(tx: EntityManager, ids: string[]): Promise<CurrentDomain[]> {
    if (ids.length === 0) return [];
    const rows: DomainRecord[] = await tx.query(`SELECT * FROM domains WHERE id = ANY($1::uuid[])`, [ids]);
    return rows.map((r) => ({ domain: toDomain(r), deleted: r.deleted_at !== null }));
  }

  async entitiesById(tx: EntityManager, ids: string[]): Promise<CurrentEntity[]> {
    if (ids.length === 0) return [];
    const rows: EntityRecord[] = await tx.query(`SELECT * FROM entities WHERE id = ANY($1::uuid[])`, [ids]);
    return rows.map((r) => ({ entity: toEntity(r), deleted: r.deleted_at !== null }));
  }

  async liveDomains(tx: EntityManager): Promise<Domain[]> {
    const rows: DomainRecord[] = await tx.query(
      `SELECT * FROM domains WHERE deleted_at IS NULL ORDER BY name COLLATE "C"`,
    );
    return rows.map(toDomain);
  }

  async liveDomainsNamed(tx: EntityManager, names: string[]): Promise<Domain[]> {
    if (names.length === 0) return [];
    const rows: DomainRecord[] = await tx.query(
      `SELECT * FROM domains WHERE deleted_at IS NULL AND name = ANY($1::text[]) ORDER BY name COLLATE "C"`,
      [names],
    );
    return rows.map(toDomain);
  }

  /**
   * SPEC §8 scale: the next page of the domains' live entities in (domain bytewise, bucket, id)
   * order, after the cursor — one range of the `entities_live_snapshot` index.
   */
  async entityPage(
    tx: EntityManager,
    domains: string[],
    after: SnapshotCursor | undefined,
    limit: number,
  ): Promise<EntityPage> {
    if (domains.length === 0) return { entities: [], last: null };
    const rows: SnapshotRecord[] = after
      ? await tx.query(
          `${SNAPSHOT_SELECT} AND domain COLLATE "C" = ANY($1::text[])
             AND (domain COLLATE "C", bucket, id) > ($2::text COLLATE "C", $3::smallint, $4::uuid)
           ORDER BY domain COLLATE "C", bucket, id LIMIT $5`,
          [domains, after.domain, after.bucket, after.id, limit],
        )
      : await tx.query(
          `${SNAPSHOT_SELECT} AND domain COLLATE "C" = ANY($1::text[])
           ORDER BY domain COLLATE "C", bucket, id LIMIT $2`,
          [domains, limit],
        );
    return page(rows);
  }

  /**
   * The next page of the given slices (in snapshot order) after the cursor: one index range per
   * slice, read only until the page is full, so no more than a page is ever read.
   */
  async slicePage(
    tx: EntityManager,
    slices: Slice[],
    after: SnapshotCursor | undefined,
    limit: number,
  ): Promise<EntityPage> {
    const rows: SnapshotRecord[] = [];
    for (const { domain, bucket } of slices) {
      if (rows.length >= limit) break;
      const fromId = after?.domain === domain && after.bucket === bucket ? after.id : null;
      rows.push(
        ...((await tx.query(
          `${SNAPSHOT_SELECT} AND domain COLLATE "C" = $1::text COLLATE "C" AND bucket = $2::smallint
             AND ($3::uuid IS NULL OR id > $3::uuid)
           ORDER BY domain COLLATE "C", bucket, id LIMIT $4`,
          [domain, bucket, fromId, limit - rows.length],
        )) as SnapshotRecord[]),
      );
    }
    return page(rows);
  }

  /** SPEC §8 scale: the non-empty buckets of the given domains, in bucket order. */
  async bucketDigests(tx: EntityManager, domains: string[]): Promise<Map<string, BucketDigest[]>> {
    const out = new Map<string, BucketDigest[]>();
    if (domains.length === 0) return out;
    const rows: Array<{ domain: string; bucket: number } & DomainDigest> = await tx.query(
      `SELECT domain, bucket, count, sum::text AS sum FROM digest_buckets
        WHERE domain = ANY($1::text[]) ORDER BY domain, bucket`,
      [domains],
    );
    for (const { domain, bucket, count, sum } of rows) {
      let buckets = out.get(domain);
      if (!buckets) out.set(domain, (buckets = []));
      buckets.push({ bucket, count, sum });
    }
    return out;
  }

  async digests(tx: EntityManager): Promise<Array<{ name: string } & DomainDigest>> {
    const rows: Array<{ domain: string; count: number; sum: string }> = await tx.query(
      `SELECT g.domain, g.count, g.sum::text AS sum FROM domain_digests g
         JOIN domains d ON d.name = g.domain AND d.deleted_at IS NULL ORDER BY g.domain COLLATE "C"`,
    );
    return rows.map((r) => ({ name: r.domain, count: r.count, sum: r.sum }));
  }
}
