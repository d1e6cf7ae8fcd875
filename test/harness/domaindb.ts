import { Client } from 'pg';

/** Direct reads of a test MDC's DomainDB, for assertions an API does not show. */
export async function withDb<T>(url: string, work: (db: Client) => Promise<T>): Promise<T> {
  const db = new Client({ connectionString: url });
  await db.connect();
  try {
    return await work(db);
  } finally {
    await db.end();
  }
}

export function changeLogRows(url: string, domain: string, objectType: 'domain' | 'entity'): Promise<number> {
  return withDb(url, async (db) => {
    const { rows } = await db.query(
      `SELECT count(*)::int AS n FROM change_log WHERE domain = $1 AND object_type = $2`,
      [domain, objectType],
    );
    return rows[0].n as number;
  });
}

export interface AuditRow {
  site: string;
  epoch: string;
  seq: number;
  op: string;
  change: any;
}

/** The MDC's audit of a domain: one row per applied change, in the order applied (read from DomainDB: it has no paging). */
export function auditOf(url: string, domain: string): Promise<AuditRow[]> {
  return withDb(url, async (db) => {
    const { rows } = await db.query(
      `SELECT site, epoch, seq::int AS seq, op, change FROM audit_log WHERE domain = $1 ORDER BY version`,
      [domain],
    );
    return rows as AuditRow[];
  });
}
