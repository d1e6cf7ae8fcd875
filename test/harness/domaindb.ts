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
