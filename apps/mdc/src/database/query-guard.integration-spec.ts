import { EventEmitter } from 'node:events';
import { Pool, PoolClient } from 'pg';
import { postgresServerUrl } from '../../../../test/harness/services';
import { QueryGuard } from './query-guard';

/** A query that takes `s` seconds on a healthy server: to the guard, as unanswered as a dead one's. */
const sleep = (s: number) => `SELECT pg_sleep(${s})`;
const TIMEOUT_MS = 300;

/** The guard against a real PostgreSQL, on a pg-pool as TypeORM builds it (`extra.Client`). */
describe('QueryGuard (SPEC §11: a DomainDB query unanswered fails, and its connection goes)', () => {
  let url: string;
  const pools: Pool[] = [];

  beforeAll(async () => {
    url = await postgresServerUrl();
  });
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end().catch(() => undefined)));
  });

  function guarded(max: number, armed = true): { pool: Pool; guard: QueryGuard } {
    const guard = new QueryGuard(TIMEOUT_MS);
    const pool = new Pool({ connectionString: url, max, Client: guard.clientClass() });
    pool.on('error', () => undefined); // a dropped idle client's 'error'
    pools.push(pool);
    if (armed) guard.arm(pool as unknown as EventEmitter);
    return { pool, guard };
  }

  it('is not armed before the MDC has started: a long query (a migration) runs to its end', async () => {
    const { pool } = guarded(1, false);
    await expect(pool.query(sleep(0.5))).resolves.toMatchObject({ rowCount: 1 });
  });

  it('fails a query unanswered past the timeout, and never hands its connection to the next caller', async () => {
    const { pool } = guarded(1);
    // as TypeORM does: the promise form, the client released after it without the error
    const client = await pool.connect();
    const slow = client.query(sleep(2)).finally(() => client.release());
    // waiting for the pool's only connection meanwhile
    const next = pool.query('SELECT 42 AS n');
    const started = Date.now();
    await expect(slow).rejects.toThrow('Query read timeout');
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 500);
    // not queued behind the query still running on the dropped connection: a new one answers it
    await expect(next).resolves.toMatchObject({ rows: [{ n: 42 }] });
    await expect(pool.query('SELECT 1 AS n')).resolves.toMatchObject({ rows: [{ n: 1 }] });
  });

  it('drops the idle connections made before the unanswered query, and leaves a checked-out one in its transaction alone', async () => {
    const { pool } = guarded(5);
    // three connections idle in the pool, and one checked out, in the middle of a transaction,
    // between two statements
    const [busy, ...idle]: PoolClient[] = await Promise.all(Array.from({ length: 4 }, () => pool.connect()));
    const pidOf = async (c: PoolClient) =>
      (await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
    const idlePids = await Promise.all(idle.map(pidOf));
    idle.forEach((c) => c.release());
    await busy.query('BEGIN');
    const busyPid = await pidOf(busy);
    await expect(pool.query(sleep(2))).rejects.toThrow('Query read timeout');
    // out of the pool at once, before any caller can be handed one (their sockets close a tick later)
    expect(pool.idleCount).toBe(0);
    // the transaction goes on and commits on its connection
    await busy.query('SELECT 1');
    await busy.query('COMMIT');
    busy.release();
    // every connection now is new, but the one that was busy
    const now = await Promise.all(
      Array.from({ length: 4 }, () => pool.query('SELECT pg_backend_pid() AS pid, pg_sleep(0.05)')),
    );
    const pids = now.map((r) => r.rows[0].pid as number);
    expect(pids.filter((pid) => idlePids.includes(pid))).toEqual([]);
    expect(pids).toContain(busyPid);
  });

  it('gives the work run `patient` ten times the timeout', async () => {
    const { pool, guard } = guarded(1);
    await expect(pool.query(sleep(0.6))).rejects.toThrow('Query read timeout');
    await expect(guard.patient(() => pool.query(sleep(0.6)))).resolves.toMatchObject({ rowCount: 1 });
    await expect(guard.patient(() => pool.query(sleep(4)), 10)).rejects.toThrow('Query read timeout');
  });
});
