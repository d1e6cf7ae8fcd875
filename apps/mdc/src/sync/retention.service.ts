import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { ClusterConfigService } from '@dd/admin-api';
import { RetentionStore } from './retention.store';

/** Purge a few times per retention period, at most once a minute (short retentions: tests, demos). */
function purgeInterval(retentionMs: number): number {
  return Math.min(60_000, Math.max(250, Math.floor(retentionMs / 4)));
}

/**
 * SPEC §3: tombstones and change-log rows are kept for `cluster.tombstoneRetentionMs`; older ones
 * are purged and `purged_through` remembers how far, so a site whose cursor is older reloads fully.
 */
@Injectable()
export class RetentionService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('Retention');
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: RetentionStore,
    private readonly config: ClusterConfigService,
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => {
      this.purge().catch((err) =>
        this.logger.warn(`purge failed: ${err instanceof Error ? err.message : String(err)}`),
      );
    }, purgeInterval(this.config.current.cluster.tombstoneRetentionMs));
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /** Purges what is older than the retention as of `now`; returns how far it purged the change log, if it did. */
  async purge(now = new Date()): Promise<string | null> {
    const cutoff = new Date(now.getTime() - this.config.current.cluster.tombstoneRetentionMs).toISOString();
    return this.store.withPurgeLock(async (tx) => {
      const through = await this.store.logThrough(tx, cutoff);
      if (through !== null) await this.store.purgeLogThrough(tx, through);
      await this.store.purgeOlderThan(tx, cutoff);
      if (through !== null) this.logger.log(`purged the change log through version ${through}`);
      return through;
    });
  }
}
