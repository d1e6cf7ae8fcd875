/**
 * SPEC §9: the zones' recent assignments, so the changes a site queued for a zone moved away from it
 * still land for a grace period. Generated from schema.entities.ts.
 */
import { MigrationInterface, QueryRunner } from 'typeorm';

export class ZoneAssignments1795923149572 implements MigrationInterface {
  name = 'ZoneAssignments1795923149572';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "zone_assignments" ("id" BIGSERIAL NOT NULL, "zone" text NOT NULL, "site" text NOT NULL, "served_since" TIMESTAMP WITH TIME ZONE NOT NULL, "served_until" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_96603bd0654afb8049496e731ab" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "zone_assignments_until" ON "zone_assignments"  ("served_until") `);
    await queryRunner.query(
      `CREATE UNIQUE INDEX "zone_assignments_open" ON "zone_assignments"  ("zone", "site") WHERE "served_until" IS NULL`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."zone_assignments_open"`);
    await queryRunner.query(`DROP INDEX "public"."zone_assignments_until"`);
    await queryRunner.query(`DROP TABLE "zone_assignments"`);
  }
}
