import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { ZoneAssignment } from '@dd/cluster-config';

/** pg advisory lock id: one replica records the zones' assignments at a time */
const RECORD_LOCK = 0x6464_7a61;

/** A zone_assignments row as `pg` returns it: timestamptz as Date. */
interface ZoneAssignmentRecord {
  zone: string;
  site: string;
  served_since: Date;
  served_until: Date | null;
}

/** SPEC §9: which sites served which zone, and until when (table `zone_assignments`). */
@Injectable()
export class ZoneHistoryStore {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /**
   * Records the assignments of the config in force as of `now`: ends the open periods it no longer
   * has, opens the ones it adds (an unchanged one stays open), and forgets periods that ended
   * before `forgetBefore`. One transaction; replicas take turns.
   */
  async record(
    assignments: Array<{ zone: string; site: string }>,
    now: Date,
    forgetBefore: Date,
  ): Promise<void> {
    const zones = assignments.map((a) => a.zone);
    const sites = assignments.map((a) => a.site);
    await this.db.transaction(async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock($1)`, [RECORD_LOCK]);
      await tx.query(
        `UPDATE zone_assignments SET served_until = $3
          WHERE served_until IS NULL AND (zone, site) NOT IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
        [zones, sites, now],
      );
      await tx.query(
        `INSERT INTO zone_assignments (zone, site, served_since)
         SELECT zone, site, $3 FROM unnest($1::text[], $2::text[]) AS a(zone, site)
         ON CONFLICT (zone, site) WHERE served_until IS NULL DO NOTHING`,
        [zones, sites, now],
      );
      await tx.query(`DELETE FROM zone_assignments WHERE served_until < $1`, [forgetBefore]);
    });
  }

  /** The periods still open, or that ended after `after`: all a scope check within the grace needs. */
  async endingAfter(after: Date): Promise<ZoneAssignment[]> {
    const rows: ZoneAssignmentRecord[] = await this.db.query(
      `SELECT zone, site, served_since, served_until FROM zone_assignments
        WHERE served_until IS NULL OR served_until > $1`,
      [after],
    );
    return rows.map((r) => ({
      zone: r.zone,
      site: r.site,
      since: r.served_since.getTime(),
      until: r.served_until === null ? null : r.served_until.getTime(),
    }));
  }
}
