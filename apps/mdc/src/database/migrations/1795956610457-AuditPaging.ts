/**
 * SPEC §5 `/audit?domain=` pages newest first by row id (keyset): an index on (domain, id) reads each
 * page in order instead of sorting the domain's whole audit for every page. Generated from
 * schema.entities.ts.
 */
import { MigrationInterface, QueryRunner } from 'typeorm';

export class AuditPaging1795956610457 implements MigrationInterface {
  name = 'AuditPaging1795956610457';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE INDEX "audit_log_domain_id" ON "audit_log" ("domain", "id") `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."audit_log_domain_id"`);
  }
}
