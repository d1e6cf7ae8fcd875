/** DomainDB as of the first release; generated from schema.entities.ts, plus the counter row. */
import { MigrationInterface, QueryRunner } from 'typeorm';

export class Initial1795385177651 implements MigrationInterface {
  name = 'Initial1795385177651';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "domains" ("id" uuid NOT NULL, "name" text NOT NULL, "parent" text, "settings" jsonb NOT NULL DEFAULT '{}', "version" bigint NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL, "deleted_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_05a6b087662191c2ea7f7ddfc4d" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "domains_live_parent" ON "domains"  ("parent") WHERE "deleted_at" IS NULL`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "domains_live_name" ON "domains"  ("name") WHERE "deleted_at" IS NULL`,
    );
    await queryRunner.query(
      `CREATE TABLE "entities" ("id" uuid NOT NULL, "domain" text NOT NULL, "kind" text NOT NULL, "name" text NOT NULL, "attributes" jsonb NOT NULL DEFAULT '{}', "version" bigint NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL, "deleted_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_8640855ae82083455cbb806173d" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "entities_live_key" ON "entities"  ("domain", "kind", "name") WHERE "deleted_at" IS NULL`,
    );
    await queryRunner.query(
      `CREATE TABLE "version_counter" ("id" smallint NOT NULL, "value" bigint NOT NULL, CONSTRAINT "PK_e2156221fcf3a8b806a08423ed5" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`INSERT INTO "version_counter" ("id", "value") VALUES (1, 0)`);
    await queryRunner.query(
      `CREATE TABLE "change_log" ("version" bigint NOT NULL, "object_type" text NOT NULL, "object_id" uuid NOT NULL, "domain" text NOT NULL, "op" text NOT NULL, "at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_587c6065fcb42a4c5b6628190e8" PRIMARY KEY ("version", "object_type", "object_id"))`,
    );
    await queryRunner.query(`CREATE INDEX "change_log_at" ON "change_log"  ("at") `);
    await queryRunner.query(
      `CREATE TABLE "audit_log" ("id" BIGSERIAL NOT NULL, "version" bigint NOT NULL, "site" text NOT NULL, "epoch" text, "seq" bigint, "actor" text NOT NULL, "op" text NOT NULL, "domain" text NOT NULL, "change" jsonb NOT NULL, "at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_07fefa57f7f5ab8fc3f52b3ed0b" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "audit_log_target" ON "audit_log"  ("domain", "version") `);
    await queryRunner.query(
      `CREATE TABLE "site_epochs" ("site" text NOT NULL, "epoch" text NOT NULL, "last_seq" bigint NOT NULL, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_e03f54769ec5198aebc0989b60c" PRIMARY KEY ("site", "epoch"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "push_verdicts" ("site" text NOT NULL, "epoch" text NOT NULL, "seq" bigint NOT NULL, "verdict" jsonb NOT NULL, "at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_e3c829bc3e9091bd73b811f7b37" PRIMARY KEY ("site", "epoch", "seq"))`,
    );
    await queryRunner.query(`CREATE INDEX "push_verdicts_at" ON "push_verdicts"  ("at") `);
    await queryRunner.query(
      `CREATE TABLE "domain_digests" ("domain" text NOT NULL, "count" integer NOT NULL, "sum" numeric(20,0) NOT NULL, CONSTRAINT "PK_e5aef66b28f623d66a18b5fb923" PRIMARY KEY ("domain"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "site_status" ("site" text NOT NULL, "last_push_at" TIMESTAMP WITH TIME ZONE, "last_pull_at" TIMESTAMP WITH TIME ZONE, "epoch" text, "last_seq" bigint, "queue_length" integer, "pulled_version" bigint, CONSTRAINT "PK_687694e22acbff04b1ae03d5103" PRIMARY KEY ("site"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "site_nonces" ("key" text NOT NULL, "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_834ab533ec00a5561dec40daca8" PRIMARY KEY ("key"))`,
    );
    await queryRunner.query(`CREATE INDEX "site_nonces_expiry" ON "site_nonces"  ("expires_at") `);
    await queryRunner.query(
      `CREATE TABLE "sync_meta" ("key" text NOT NULL, "value" text NOT NULL, CONSTRAINT "PK_187d1b3fbf4d330e1a265e77695" PRIMARY KEY ("key"))`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "sync_meta"`);
    await queryRunner.query(`DROP INDEX "public"."site_nonces_expiry"`);
    await queryRunner.query(`DROP TABLE "site_nonces"`);
    await queryRunner.query(`DROP TABLE "site_status"`);
    await queryRunner.query(`DROP TABLE "domain_digests"`);
    await queryRunner.query(`DROP INDEX "public"."push_verdicts_at"`);
    await queryRunner.query(`DROP TABLE "push_verdicts"`);
    await queryRunner.query(`DROP TABLE "site_epochs"`);
    await queryRunner.query(`DROP INDEX "public"."audit_log_target"`);
    await queryRunner.query(`DROP TABLE "audit_log"`);
    await queryRunner.query(`DROP INDEX "public"."change_log_at"`);
    await queryRunner.query(`DROP TABLE "change_log"`);
    await queryRunner.query(`DROP TABLE "version_counter"`);
    await queryRunner.query(`DROP INDEX "public"."entities_live_key"`);
    await queryRunner.query(`DROP TABLE "entities"`);
    await queryRunner.query(`DROP INDEX "public"."domains_live_name"`);
    await queryRunner.query(`DROP INDEX "public"."domains_live_parent"`);
    await queryRunner.query(`DROP TABLE "domains"`);
  }
}
