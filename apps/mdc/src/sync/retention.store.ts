import { Injectable, Optional } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { QueryGuard } from '../database/query-guard';

/** pg advisory lock id: one replica purges at a time */
const PURGE_LOCK = 0x6464_7572;

/** SPEC §3: what the retention purges from DomainDB, and how far it has purged the change log. */
@Injectable()
export class RetentionStore {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Optional() private readonly guard?: QueryGuard,
  ) {}

  /**
   * Runs `work` in one transaction holding the purge lock; null, without running it, while another
   * replica purges. Its queries may take long after a long pause (`QueryGuard.patient`).
   */
  withPurgeLock<T>(work: (tx: EntityManager) => Promise<T>): Promise<T | null> {
    const purge = () => this.purgeLocked(work);
    return this.guard ? this.guard.patient(purge) : purge();
  }

  private purgeLocked<T>(work: (tx: EntityManager) => Promise<T>): Promise<T | null> {
    return this.db.transaction(async (tx) => {
      const [row]: Array<{ locked: boolean }> = await tx.query(
        `SELECT pg_try_advisory_xact_lock($1) AS locked`,
        [PURGE_LOCK],
      );
      return row.locked ? work(tx) : null;
    });
  }

  /** The highest version logged before `cutoff`; null when nothing is that old. */
  async logThrough(tx: EntityManager, cutoff: string): Promise<string | null> {
    const [row]: Array<{ through: string | null }> = await tx.query(
      `SELECT max(version)::text AS through FROM change_log WHERE at < $1`,
      [cutoff],
    );
    return row.through;
  }

  /** Drops the change log through `version` and remembers it as `purged_through` (it never moves back). */
  async purgeLogThrough(tx: EntityManager, version: string): Promise<void> {
    await tx.query(`DELETE FROM change_log WHERE version <= $1`, [version]);
    await tx.query(
      `INSERT INTO sync_meta (key, value) VALUES ('purged_through', $1)
       ON CONFLICT (key) DO UPDATE SET value = GREATEST(sync_meta.value::bigint, EXCLUDED.value::bigint)::text`,
      [version],
    );
  }

  /** Tombstones and push verdicts older than `cutoff`, and nonces past their expiry. */
  async purgeOlderThan(tx: EntityManager, cutoff: string): Promise<void> {
    await tx.query(`DELETE FROM entities WHERE deleted_at < $1`, [cutoff]);
    await tx.query(`DELETE FROM domains WHERE deleted_at < $1`, [cutoff]);
    await tx.query(`DELETE FROM push_verdicts WHERE at < $1`, [cutoff]);
    await tx.query(`DELETE FROM site_nonces WHERE expires_at < now()`);
  }
}
