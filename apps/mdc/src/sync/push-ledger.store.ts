import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import type { PushVerdict } from '@dd/sync-protocol';

export interface SiteStatusRecord {
  site: string;
  lastPushAt: string | null;
  lastPullAt: string | null;
  epoch: string | null;
  lastSeq: string | null;
  queueLength: number | null;
  pulledVersion: string | null;
}

/** SPEC §7 exactly-once bookkeeping and what each site last reported: the MDC's sync tables. */
/** A site_status row as `pg` returns it: bigint as string, timestamptz as Date. */
interface SiteStatusRow {
  site: string;
  last_push_at: Date | null;
  last_pull_at: Date | null;
  epoch: string | null;
  last_seq: string | null;
  queue_length: number | null;
  pulled_version: string | null;
}

@Injectable()
export class PushLedgerStore {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** The highest seq decided for (site, epoch); 0 for a new epoch. Called under the counter lock. */
  async lastSeq(tx: EntityManager, site: string, epoch: string): Promise<number> {
    const [row] = await tx.query(`SELECT last_seq FROM site_epochs WHERE site = $1 AND epoch = $2`, [
      site,
      epoch,
    ]);
    return row ? Number(row.last_seq) : 0;
  }

  async firstVerdicts(
    tx: EntityManager,
    site: string,
    epoch: string,
    seqs: number[],
  ): Promise<Map<number, PushVerdict>> {
    if (seqs.length === 0) return new Map();
    const rows: Array<{ seq: string; verdict: PushVerdict }> = await tx.query(
      `SELECT seq, verdict FROM push_verdicts WHERE site = $1 AND epoch = $2 AND seq = ANY($3::bigint[])`,
      [site, epoch, seqs],
    );
    return new Map(rows.map((r) => [Number(r.seq), r.verdict]));
  }

  /**
   * Records the verdicts, the new high-water mark and what the site reported (`queueLength`, for
   * /cluster/status) in the transaction that applied the changes: one statement, one commit.
   */
  async record(
    tx: EntityManager,
    site: string,
    epoch: string,
    verdicts: PushVerdict[],
    lastSeq: number,
    queueLength: number | undefined,
  ): Promise<void> {
    await tx.query(
      `WITH verdicts AS (
         INSERT INTO push_verdicts (site, epoch, seq, verdict, at)
         SELECT $1, $2, (v->>'seq')::bigint, v, now() FROM jsonb_array_elements($4::jsonb) AS v
       ), epochs AS (
         INSERT INTO site_epochs (site, epoch, last_seq, updated_at) VALUES ($1, $2, $3, now())
         ON CONFLICT (site, epoch) DO UPDATE SET last_seq = EXCLUDED.last_seq, updated_at = EXCLUDED.updated_at
       )
       INSERT INTO site_status (site, last_push_at, epoch, last_seq, queue_length) VALUES ($1, now(), $2, $3, $5)
       ON CONFLICT (site) DO UPDATE SET last_push_at = now(), epoch = $2, last_seq = $3,
         queue_length = COALESCE($5, site_status.queue_length)`,
      [site, epoch, lastSeq, JSON.stringify(verdicts), queueLength ?? null],
    );
  }

  /**
   * A pull: the version the site has now, and its queue length as it reported it with the pull
   * (after its push: SPEC §10, /cluster/status fresh) — kept as it was if the site sent none.
   */
  async notePull(site: string, version: string, queueLength: number | undefined): Promise<void> {
    await this.db.query(
      `INSERT INTO site_status (site, last_pull_at, pulled_version, queue_length) VALUES ($1, now(), $2, $3)
       ON CONFLICT (site) DO UPDATE SET last_pull_at = now(), pulled_version = $2,
         queue_length = COALESCE($3, site_status.queue_length)`,
      [site, version, queueLength ?? null],
    );
  }

  /** A snapshot page asked for: the site's last resync is now; the version it has pulled through is not moved. */
  async noteResyncStep(site: string): Promise<void> {
    await this.db.query(
      `INSERT INTO site_status (site, last_pull_at) VALUES ($1, now())
       ON CONFLICT (site) DO UPDATE SET last_pull_at = now()`,
      [site],
    );
  }

  /**
   * Every site's status row, and the database's clock when it was read: the times in the rows are the
   * database's `now()`, so their age is measured on that clock, never on this process's.
   */
  async statuses(): Promise<{ now: number; sites: SiteStatusRecord[] }> {
    const found: Array<SiteStatusRow & { db_now: Date }> = await this.db.query(
      `SELECT s.site, s.last_push_at, s.last_pull_at, s.epoch, s.last_seq, s.queue_length, s.pulled_version,
              clock.db_now
       FROM (SELECT now() AS db_now) clock LEFT JOIN site_status s ON true ORDER BY s.site`,
    );
    const rows = found.filter((r) => r.site !== null);
    const sites = rows.map((r) => ({
      site: r.site,
      lastPushAt: r.last_push_at ? r.last_push_at.toISOString() : null,
      lastPullAt: r.last_pull_at ? r.last_pull_at.toISOString() : null,
      epoch: r.epoch ?? null,
      lastSeq: r.last_seq === null ? null : String(r.last_seq),
      queueLength: r.queue_length ?? null,
      pulledVersion: r.pulled_version === null ? null : String(r.pulled_version),
    }));
    return { now: found[0].db_now.getTime(), sites };
  }
}
