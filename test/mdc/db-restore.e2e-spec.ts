import { Client } from 'pg';
import { TestCluster } from '../harness/cluster';
import { withDb } from '../harness/domaindb';
import { AdminClient } from '../harness/http';
import { postgresServerUrl } from '../harness/services';

/**
 * SPEC §11: DomainDB goes back further than the sites keep what was acknowledged — an operator
 * restores last night's backup, or a replica far behind is promoted. The changes a site saw
 * acknowledged since then are lost for good (nobody has them any more), and no later seq of the
 * site's epoch can reach DomainDB past that hole. The site must not stop over it: it goes on under
 * a new epoch, says what was lost (`/sync/status` `lostChanges`, the cycle's `changes_lost`, a
 * metric), its later writes reach the MDC exactly once, and it converges to what DomainDB has now.
 * The backup is a copy of DomainDB made with the MDC stopped (`CREATE DATABASE … TEMPLATE`).
 */
describe('DomainDB restored from a backup older than what the sites keep', () => {
  let cluster: TestCluster;
  let mdc: AdminClient;
  let site: AdminClient;
  let backup: string;
  let server: string;

  async function query<T = any>(sql: string): Promise<T[]> {
    const admin = new Client({ connectionString: server });
    await admin.connect();
    try {
      return (await admin.query(sql)).rows as T[];
    } finally {
      await admin.end();
    }
  }

  async function names(admin: AdminClient): Promise<string[]> {
    const res = await admin.get('/domains/acme/entities?limit=1000');
    expect(res.status).toBe(200);
    return res.body.items.map((e: { name: string }) => e.name).sort();
  }

  async function create(name: string): Promise<void> {
    expect((await site.post('/domains/acme/entities', { kind: 'user', name })).status).toBe(201);
  }

  beforeAll(async () => {
    server = await postgresServerUrl();
    cluster = await TestCluster.start('db-restore', {
      sites: ['master', 'site-a'],
      zones: [{ domain: 'acme', sites: ['site-a'] }],
      // what the MDC acknowledged is kept 1 ms: the next cycle has dropped it
      cluster: { ackRetentionMs: 1 },
      sdcEnv: { SYNC_INTERVAL_MS: '600000' },
    });
    mdc = cluster.admin(cluster.master);
    site = cluster.admin('site-a');
    backup = `${cluster.mdcDb.name}_backup`;
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
    if (backup) await query(`DROP DATABASE IF EXISTS "${backup}" WITH (FORCE)`).catch(() => undefined);
  });

  it('goes on under a new epoch, says what was lost, and its later writes reach the MDC once', async () => {
    expect((await mdc.post('/domains', { name: 'acme' })).status).toBe(201);
    for (let i = 0; i < 5; i++) await create(`before-${i}`);
    expect((await cluster.sync('site-a')).lastCycle).toMatchObject({ ok: true });
    const { epoch } = await cluster.status('site-a');

    // last night's backup: seqs 1 to 5 of the site's epoch in it
    await cluster.process(cluster.master).stop();
    await cluster.waitFor(
      () =>
        query(`CREATE DATABASE "${backup}" TEMPLATE "${cluster.mdcDb.name}"`).then(
          () => true,
          () => false, // its sessions take a moment to go
        ),
      10_000,
    );
    await cluster.restart(cluster.master);

    // acknowledged after the backup, then no longer kept by the site
    for (let i = 0; i < 10; i++) await create(`lost-${i}`);
    // (a write asks for a cycle of its own: these may be pushed already)
    expect((await cluster.sync('site-a')).lastCycle).toMatchObject({ ok: true });
    expect((await cluster.sync('site-a')).lastCycle).toMatchObject({ ok: true });
    expect((await cluster.status('site-a')).queue.length).toBe(0);
    expect(await names(mdc)).toContain('lost-9');

    // (a site's seqs are its queue entries', not one per write: a group of writes may share one)
    const lastSeq = (url: string) =>
      withDb(url, async (db) =>
        Number((await db.query('SELECT last_seq FROM site_epochs')).rows[0].last_seq),
      );
    const restoredUrl = cluster.mdcDb.url.replace(`/${cluster.mdcDb.name}`, `/${backup}`);
    const [inBackup, acknowledged] = [await lastSeq(restoredUrl), await lastSeq(cluster.mdcDb.url)];
    expect(acknowledged).toBeGreaterThan(inBackup);
    // the backup restored
    await cluster.restart(cluster.master, { DATABASE_URL: restoredUrl });
    expect(await names(mdc)).toEqual([0, 1, 2, 3, 4].map((i) => `before-${i}`));

    // writes after it: their seqs are past the hole DomainDB has now
    await create('after-0');
    await create('after-1');
    await cluster.waitFor(async () => {
      await cluster.sync('site-a');
      const at = await names(mdc);
      return at.includes('after-0') && at.includes('after-1');
    }, 15_000);

    const status = await cluster.status('site-a');
    expect(status.lostChanges).toEqual({
      epoch,
      fromSeq: inBackup + 1,
      toSeq: acknowledged,
      requeued: 0,
      newEpoch: status.epoch,
      at: expect.any(String),
    });
    expect(status.epoch).not.toBe(epoch);
    expect(cluster.process('site-a').log).toContain(
      `changes_lost: DomainDB lost seqs ${inBackup + 1} to ${acknowledged} of epoch ${epoch}`,
    );
    const metrics = await (await fetch(`${cluster.url('site-a')}/metrics`)).text();
    expect(metrics).toMatch(/^dd_sdc_cycle_failures_total\{error="changes_lost"\} 1$/m);

    // a cycle like any other from then on; the site equals DomainDB as restored, plus what came after
    expect((await cluster.sync('site-a')).lastCycle).toMatchObject({ ok: true, error: null });
    expect(status.queue.length + (await cluster.status('site-a')).queue.length).toBe(0);
    const expected = [...[0, 1, 2, 3, 4].map((i) => `before-${i}`), 'after-0', 'after-1'].sort();
    expect(await names(mdc)).toEqual(expected);
    expect(await names(site)).toEqual(expected);
    // exactly once: the new epoch's changes, each applied once, one create per name
    const applied = await withDb(restoredUrl, async (db) => {
      const { rows } = await db.query(
        `SELECT epoch, change->>'name' AS name FROM audit_log WHERE site = 'site-a' AND epoch <> $1
         ORDER BY id`,
        [epoch],
      );
      return rows;
    });
    expect(applied).toEqual([
      { epoch: status.epoch, name: 'after-0' },
      { epoch: status.epoch, name: 'after-1' },
    ]);
  }, 90_000);
});
