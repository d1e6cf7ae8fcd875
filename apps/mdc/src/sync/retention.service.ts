import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { ClusterConfigService } from '@dd/admin-api';

/** Purge a few times per retention period, at most once a minute (short retentions: tests, demos). */
function purgeInterval(retentionMs: number): number {
  return Math.min(60_000, Math.max(250, Math.floor(retentionMs / 4)));
}
/** pg advisory lock id: one replica purges at a time */
const PURGE_LOCK = 0x6464_7572;

/**
 * SPEC §3: tombstones and change-log rows are kept for `cluster.tombstoneRetentionMs`; older ones
 * are purged and `purged_through` remembers how far, so a site whose cursor is older reloads fully.
 */
@Injectable()
export class RetentionService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('Retention');
  private timer: NodeJS.Timeout | undefined;

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly config: ClusterConfigService,
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => {
      this.purge().catch((err) => this.logger.warn(`purge failed: ${(err as Error).message}`));
    }, purgeInterval(this.config.current.cluster.tombstoneRetentionMs));
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /** Purges what is older than the retention as of `now`; returns the new `purged_through`. */
  async purge(now = new Date()): Promise<string | null> {
    const cutoff = new Date(now.getTime() - this.config.current.cluster.tombstoneRetentionMs).toISOString();
    return this.db.transaction(async (tx) => {
      const [{ locked }] = await tx.query(`SELECT pg_try_advisory_xact_lock($1) AS locked`, [PURGE_LOCK]);
      if (!locked) return null;
      const [{ through }] = await tx.query(
        `SELECT max(version)::text AS through FROM change_log WHERE at < $1`,
        [cutoff],
      );
      if (through !== null) {
        await tx.query(`DELETE FROM change_log WHERE version <= $1`, [through]);
        await tx.query(
          `INSERT INTO sync_meta (key, value) VALUES ('purged_through', $1)
           ON CONFLICT (key) DO UPDATE SET value = GREATEST(sync_meta.value::bigint, EXCLUDED.value::bigint)::text`,
          [through],
        );
      }
      await tx.query(`DELETE FROM entities WHERE deleted_at < $1`, [cutoff]);
      await tx.query(`DELETE FROM domains WHERE deleted_at < $1`, [cutoff]);
      await tx.query(`DELETE FROM push_verdicts WHERE at < $1`, [cutoff]);
      await tx.query(`DELETE FROM site_nonces WHERE expires_at < now()`);
      if (through !== null) this.logger.log(`purged the change log through version ${through}`);
      return through as string | null;
    });
  }
}
