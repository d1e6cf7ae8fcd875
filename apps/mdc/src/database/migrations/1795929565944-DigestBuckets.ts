/**
 * SPEC §8 scale: each entity's bucket (a stored generated column), the paged snapshot's keyset
 * index, and the per-bucket digests — backfilled from the live entities already stored, so an
 * upgraded deployment's buckets are right from its first manifest. Generated from
 * schema.entities.ts, plus the index TypeORM cannot express and the backfill.
 */
import { MigrationInterface, QueryRunner } from 'typeorm';
import { addElement, DomainDigest, EMPTY_DIGEST, elementHash, Entity } from '@dd/directory';

const BACKFILL_PAGE = 5000;

export class DigestBuckets1795929565944 implements MigrationInterface {
  name = 'DigestBuckets1795929565944';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "digest_buckets" ("domain" text NOT NULL, "bucket" smallint NOT NULL, "count" integer NOT NULL, "sum" numeric(20,0) NOT NULL, CONSTRAINT "PK_dfda837fffe6aed59a401d35d8b" PRIMARY KEY ("domain", "bucket"))`,
    );
    await queryRunner.query(
      `ALTER TABLE "entities" ADD "bucket" smallint GENERATED ALWAYS AS (get_byte(decode(md5(id::text), 'hex'), 0)) STORED NOT NULL`,
    );
    await queryRunner.query(
      `INSERT INTO "typeorm_metadata"("database", "schema", "table", "type", "name", "value") VALUES (current_database(), current_schema(), $1, $2, $3, $4)`,
      ['entities', 'GENERATED_COLUMN', 'bucket', "get_byte(decode(md5(id::text), 'hex'), 0)"],
    );
    await queryRunner.query(
      `CREATE INDEX "entities_live_snapshot" ON "entities" ("domain" COLLATE "C", "bucket", "id") WHERE "deleted_at" IS NULL`,
    );
    await backfillDigestBuckets((sql, params) => queryRunner.query(sql, params));
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."entities_live_snapshot"`);
    await queryRunner.query(
      `DELETE FROM "typeorm_metadata" WHERE "type" = $1 AND "name" = $2 AND "database" = current_database() AND "schema" = current_schema() AND "table" = $3`,
      ['GENERATED_COLUMN', 'bucket', 'entities'],
    );
    await queryRunner.query(`ALTER TABLE "entities" DROP COLUMN "bucket"`);
    await queryRunner.query(`DROP TABLE "digest_buckets"`);
  }
}

/** A live entity as the element hash reads it (it leaves the timestamps out), with its bucket. */
type LiveEntityRecord = Entity & { bucket: number };

/**
 * Recounts `digest_buckets` from the live entities, reading them a page at a time by id (memory:
 * one page plus one digest per non-empty bucket). Element hashes leave the timestamps out.
 */
export async function backfillDigestBuckets(
  query: (sql: string, params?: unknown[]) => Promise<unknown>,
): Promise<void> {
  const digests = new Map<string, DomainDigest>();
  for (let after: string | null = null; ;) {
    const rows = (await query(
      `SELECT id, domain, kind, name, coalesce(attributes, '{}') AS attributes, version::text AS version,
              '' AS "createdAt", '' AS "updatedAt", bucket
         FROM entities WHERE deleted_at IS NULL AND ($1::uuid IS NULL OR id > $1::uuid) ORDER BY id LIMIT $2`,
      [after, BACKFILL_PAGE],
    )) as LiveEntityRecord[];
    for (const { bucket, ...entity } of rows) {
      const key = JSON.stringify([entity.domain, bucket]);
      digests.set(key, addElement(digests.get(key) ?? EMPTY_DIGEST, elementHash(entity)));
    }
    if (rows.length < BACKFILL_PAGE) break;
    after = rows[rows.length - 1].id;
  }
  const rows = [...digests].map(([key, d]) => {
    const [domain, bucket] = JSON.parse(key) as [string, number];
    return { domain, bucket, ...d };
  });
  await query(`DELETE FROM digest_buckets`);
  for (let i = 0; i < rows.length; i += BACKFILL_PAGE) {
    await query(
      `INSERT INTO digest_buckets (domain, bucket, count, sum)
       SELECT domain, bucket, count, sum FROM jsonb_to_recordset($1::jsonb)
         AS r(domain text, bucket smallint, count integer, sum numeric(20,0))`,
      [JSON.stringify(rows.slice(i, i + BACKFILL_PAGE))],
    );
  }
}
