import { Column, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';

/** The bucket of an entity id as PostgreSQL computes it; equals `bucketOf(id)` of libs/directory. */
export const ENTITY_BUCKET_SQL = `get_byte(decode(md5(id::text), 'hex'), 0)`;

/**
 * DomainDB's tables (SPEC §3). Deletes keep the row as a tombstone (`deleted_at` set) until the
 * retention passes; uniqueness holds among live rows only.
 */
@Entity('domains')
@Index('domains_live_name', ['name'], { unique: true, where: '"deleted_at" IS NULL' })
@Index('domains_live_parent', ['parent'], { where: '"deleted_at" IS NULL' })
export class DomainRow {
  @PrimaryColumn('uuid') id: string;
  @Column('text') name: string;
  @Column('text', { nullable: true }) parent: string | null;
  @Column('jsonb', { default: {} }) settings: Record<string, unknown>;
  @Column('bigint') version: string;
  @Column('timestamptz', { name: 'created_at' }) createdAt: Date;
  @Column('timestamptz', { name: 'updated_at' }) updatedAt: Date;
  @Column('timestamptz', { name: 'deleted_at', nullable: true }) deletedAt: Date | null;
}

@Entity('entities')
@Index('entities_live_key', ['domain', 'kind', 'name'], { unique: true, where: '"deleted_at" IS NULL' })
// SPEC §8 scale: the paged snapshot's keyset, (domain bytewise, bucket, id) — its collation is
// beyond TypeORM's index options, so the migration creates it and the drift check leaves it be.
@Index('entities_live_snapshot', { synchronize: false })
export class EntityRow {
  @PrimaryColumn('uuid') id: string;
  @Column('text') domain: string;
  /** SPEC §8 scale: `bucketOf(id)` of libs/directory, the first byte of the id's MD5 */
  @Column({ type: 'smallint', generatedType: 'STORED', asExpression: ENTITY_BUCKET_SQL })
  bucket: number;
  @Column('text') kind: string;
  @Column('text') name: string;
  @Column('jsonb', { default: {} }) attributes: Record<string, unknown>;
  @Column('bigint') version: string;
  @Column('timestamptz', { name: 'created_at' }) createdAt: Date;
  @Column('timestamptz', { name: 'updated_at' }) updatedAt: Date;
  @Column('timestamptz', { name: 'deleted_at', nullable: true }) deletedAt: Date | null;
}

/** SPEC §3: the one counter row every applying transaction locks, so versions commit in order. */
@Entity('version_counter')
export class VersionCounterRow {
  @PrimaryColumn('smallint') id: number;
  @Column('bigint') value: string;
}

/** One row per object a change wrote; pulled by cursor (`version > cursor`). */
@Entity('change_log')
@Index('change_log_at', ['at'])
export class ChangeLogRow {
  @PrimaryColumn('bigint') version: string;
  @PrimaryColumn('text', { name: 'object_type' }) objectType: 'domain' | 'entity';
  @PrimaryColumn('uuid', { name: 'object_id' }) objectId: string;
  @Column('text') domain: string;
  @Column('text') op: 'put' | 'delete';
  @Column('timestamptz') at: Date;
}

/** One row per applied change: who, from which site, when, what (SPEC §5 /audit). */
@Entity('audit_log')
@Index('audit_log_target', ['domain', 'version'])
// SPEC §5 /audit?domain= pages newest first by id (keyset): this index serves each page without a sort.
@Index('audit_log_domain_id', ['domain', 'id'])
export class AuditRow {
  @PrimaryGeneratedColumn('increment', { type: 'bigint' }) id: string;
  @Column('bigint') version: string;
  @Column('text') site: string;
  @Column('text', { nullable: true }) epoch: string | null;
  @Column('bigint', { nullable: true }) seq: string | null;
  @Column('text') actor: string;
  @Column('text') op: string;
  @Column('text') domain: string;
  @Column('jsonb') change: Record<string, unknown>;
  @Column('timestamptz') at: Date;
}

/** SPEC §7 exactly-once: the highest seq decided per (site, epoch), written with the changes. */
@Entity('site_epochs')
export class SiteEpochRow {
  @PrimaryColumn('text') site: string;
  @PrimaryColumn('text') epoch: string;
  @Column('bigint', { name: 'last_seq' }) lastSeq: string;
  @Column('timestamptz', { name: 'updated_at' }) updatedAt: Date;
}

/** The first verdict of every pushed change, so a re-sent change gets the same answer. */
@Entity('push_verdicts')
@Index('push_verdicts_at', ['at'])
export class PushVerdictRow {
  @PrimaryColumn('text') site: string;
  @PrimaryColumn('text') epoch: string;
  @PrimaryColumn('bigint') seq: string;
  @Column('jsonb') verdict: Record<string, unknown>;
  @Column('timestamptz') at: Date;
}

/** SPEC §8 manifest: per-domain additive digest, kept up to date by every applying transaction. */
@Entity('domain_digests')
export class DomainDigestRow {
  @PrimaryColumn('text') domain: string;
  @Column('integer') count: number;
  @Column('numeric', { precision: 20, scale: 0 }) sum: string;
}

/**
 * SPEC §8 scale: the additive digest of each non-empty (domain, bucket), kept by every applying
 * transaction; a domain's digest is its record's element hash plus the sum of its buckets.
 */
@Entity('digest_buckets')
export class DigestBucketRow {
  @PrimaryColumn('text') domain: string;
  @PrimaryColumn('smallint') bucket: number;
  @Column('integer') count: number;
  @Column('numeric', { precision: 20, scale: 0 }) sum: string;
}

/** What each site last told the MDC, for /cluster/status. */
@Entity('site_status')
export class SiteStatusRow {
  @PrimaryColumn('text') site: string;
  @Column('timestamptz', { name: 'last_push_at', nullable: true }) lastPushAt: Date | null;
  @Column('timestamptz', { name: 'last_pull_at', nullable: true }) lastPullAt: Date | null;
  @Column('text', { nullable: true }) epoch: string | null;
  @Column('bigint', { name: 'last_seq', nullable: true }) lastSeq: string | null;
  @Column('integer', { name: 'queue_length', nullable: true }) queueLength: number | null;
  @Column('bigint', { name: 'pulled_version', nullable: true }) pulledVersion: string | null;
}

/** Nonces of signed site calls, shared by every MDC replica (SPEC §9 replay protection). */
@Entity('site_nonces')
@Index('site_nonces_expiry', ['expiresAt'])
export class SiteNonceRow {
  @PrimaryColumn('text') key: string;
  @Column('timestamptz', { name: 'expires_at' }) expiresAt: Date;
}

/** Small durable facts: `purged_through`, the highest version whose log rows may be gone. */
@Entity('sync_meta')
export class SyncMetaRow {
  @PrimaryColumn('text') key: string;
  @Column('text') value: string;
}

/**
 * SPEC §9: which site served which zone, from when until when (`served_until` null: still serving),
 * recorded at start-up and on every config reload; a zone moved away keeps its old site's changes
 * landing for `cluster.zoneMoveGraceMs`. At most one open period per (zone, site).
 */
@Entity('zone_assignments')
@Index('zone_assignments_open', ['zone', 'site'], { unique: true, where: '"served_until" IS NULL' })
@Index('zone_assignments_until', ['servedUntil'])
export class ZoneAssignmentRow {
  @PrimaryGeneratedColumn('increment', { type: 'bigint' }) id: string;
  @Column('text') zone: string;
  @Column('text') site: string;
  @Column('timestamptz', { name: 'served_since' }) servedSince: Date;
  @Column('timestamptz', { name: 'served_until', nullable: true }) servedUntil: Date | null;
}

export const SCHEMA_ENTITIES = [
  DomainRow,
  EntityRow,
  VersionCounterRow,
  ChangeLogRow,
  AuditRow,
  SiteEpochRow,
  PushVerdictRow,
  DomainDigestRow,
  DigestBucketRow,
  SiteStatusRow,
  SiteNonceRow,
  SyncMetaRow,
  ZoneAssignmentRow,
];
