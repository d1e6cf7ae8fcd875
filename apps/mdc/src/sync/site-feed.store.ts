import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import type { Domain, DomainDigest, Entity } from '@dd/directory';
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
export interface CurrentEntity {
  entity: Entity;
  deleted: boolean;
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

  async liveEntitiesOf(tx: EntityManager, domains: string[]): Promise<Entity[]> {
    if (domains.length === 0) return [];
    const rows: EntityRecord[] = await tx.query(
      `SELECT * FROM entities WHERE deleted_at IS NULL AND domain = ANY($1::text[]) ORDER BY domain, kind, name`,
      [domains],
    );
    return rows.map(toEntity);
  }

  async digests(tx: EntityManager): Promise<Array<{ name: string } & DomainDigest>> {
    const rows: Array<{ domain: string; count: number; sum: string }> = await tx.query(
      `SELECT g.domain, g.count, g.sum::text AS sum FROM domain_digests g
         JOIN domains d ON d.name = g.domain AND d.deleted_at IS NULL ORDER BY g.domain COLLATE "C"`,
    );
    return rows.map((r) => ({ name: r.domain, count: r.count, sum: r.sum }));
  }
}
