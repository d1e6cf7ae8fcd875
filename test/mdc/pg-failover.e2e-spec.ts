import { TestCluster } from '../harness/cluster';
import { withDb } from '../harness/domaindb';
import { AdminClient } from '../harness/http';
import { missingPostgresBinaries, OwnPostgres } from '../harness/own-servers';
import { TcpRelay } from '../harness/relay';

interface Listed {
  id: string;
  name: string;
  version: string;
  attributes: Record<string, unknown>;
}

/**
 * SPEC §11 "Failover without loss": DomainDB on a PostgreSQL primary with an asynchronous streaming
 * replica, both started by this test; the MDC reaches DomainDB through an address that moves to the
 * replica at the failover (a virtual IP, as Patroni or a managed service move it), so the MDC keeps
 * running. The replica stops receiving (its replication link cut, replay paused) while the sites
 * push; the MDC acknowledges those changes; the primary dies; the replica is promoted and the
 * address moved — DomainDB has lost the last changes and the ledger their seqs. With no operator
 * action and no periodic cycle, every change a site saw acknowledged must end applied exactly once,
 * and every site equal to DomainDB.
 */
const missing = missingPostgresBinaries();
if (missing.length > 0)
  console.log(
    `test/mdc/pg-failover.e2e-spec.ts skipped: PostgreSQL's ${missing.join(', ')} not installed (set PG_BIN)`,
  );
const describeWithPostgres = missing.length === 0 ? describe : describe.skip;

describeWithPostgres('an asynchronous PostgreSQL failover under the MDC', () => {
  let primary: OwnPostgres;
  let replica: OwnPostgres;
  /** the replica's replication connection to the primary: cutting it is the lag a failover loses */
  let replication: TcpRelay;
  /** DomainDB's address as the MDC knows it */
  let vip: TcpRelay;
  let cluster: TestCluster;
  let mdc: AdminClient;
  let siteA: AdminClient;
  let siteB: AdminClient;
  /** domain → names of the entities whose create a site answered 201 and then saw acknowledged */
  const acknowledged: Record<string, string[]> = { acme: [], globex: [] };

  async function create(site: AdminClient, domain: string, name: string): Promise<void> {
    const res = await site.post(`/domains/${domain}/entities`, {
      kind: 'user',
      name,
      attributes: { n: name },
    });
    expect(res.status).toBe(201);
    acknowledged[domain].push(name);
  }

  async function listed(admin: AdminClient, domain: string): Promise<Listed[]> {
    const res = await admin.get(`/domains/${domain}/entities?limit=1000`);
    expect(res.status).toBe(200);
    return res.body.items.map(({ id, name, version, attributes }: Listed) => ({
      id,
      name,
      version,
      attributes,
    }));
  }

  /** The site's queue is empty: the MDC has answered every change it had. */
  async function drained(siteId: string): Promise<void> {
    expect((await cluster.sync(siteId)).lastCycle).toMatchObject({ ok: true });
    expect((await cluster.status(siteId)).queue.length).toBe(0);
  }

  async function lsn(server: OwnPostgres, sql: string): Promise<string> {
    return withDb(server.url('domaindb'), async (db) => (await db.query(`SELECT ${sql} AS lsn`)).rows[0].lsn);
  }

  beforeAll(async () => {
    primary = await OwnPostgres.start();
    const databaseUrl = await primary.createDatabase('domaindb');
    replication = await TcpRelay.start({ host: '127.0.0.1', port: primary.port });
    replica = await OwnPostgres.replicaOf(primary, replication.port);
    vip = await TcpRelay.start({ host: '127.0.0.1', port: primary.port });
    cluster = await TestCluster.start('pg-failover', {
      sites: ['master', 'site-a', 'site-b'],
      zones: [
        { domain: 'acme', sites: ['site-a'] },
        { domain: 'globex', sites: ['site-a', 'site-b'] },
      ],
      databaseUrl: databaseUrl.replace(`:${primary.port}/`, `:${vip.port}/`),
      sdcEnv: { SYNC_INTERVAL_MS: '600000' },
    });
    mdc = cluster.admin(cluster.master);
    siteA = cluster.admin('site-a');
    siteB = cluster.admin('site-b');
  }, 90_000);

  afterAll(async () => {
    await cluster?.stop();
    await replication?.close();
    await vip?.close();
    await replica?.destroy();
    await primary?.destroy();
  });

  it('re-pushes what DomainDB lost: every acknowledged change applied exactly once, every site equal', async () => {
    // Before: changes that reach the replica.
    expect((await mdc.post('/domains', { name: 'acme' })).status).toBe(201);
    expect((await mdc.post('/domains', { name: 'globex' })).status).toBe(201);
    await drained('site-a');
    await drained('site-b');
    for (let i = 0; i < 5; i++) await create(siteA, 'acme', `before-a${i}`);
    for (let i = 0; i < 5; i++) await create(siteB, 'globex', `before-b${i}`);
    await drained('site-a');
    await drained('site-b');
    const head = await lsn(primary, 'pg_current_wal_lsn()');
    await cluster.waitFor(async () => {
      const replayed = await lsn(replica, 'pg_last_wal_replay_lsn()');
      return (
        await withDb(replica.url('domaindb'), (db) =>
          db.query('SELECT $1::pg_lsn >= $2::pg_lsn AS ok', [replayed, head]),
        )
      ).rows[0].ok;
    }, 10_000);

    // The window a failover loses: the replica receives nothing more and replays nothing more.
    await withDb(replica.url('domaindb'), (db) => db.query('SELECT pg_wal_replay_pause()'));
    replication.cut();
    for (let i = 0; i < 20; i++) await create(siteA, 'acme', `lost-a${i}`);
    for (let i = 0; i < 5; i++) await create(siteA, 'globex', `lost-ag${i}`);
    const edit = await siteA.patch('/domains/acme/entities/user/before-a0', { attributes: { edited: true } });
    expect(edit.status).toBe(200);
    for (let i = 0; i < 10; i++) await create(siteB, 'globex', `lost-b${i}`);
    await drained('site-a');
    await drained('site-b');
    await drained('site-a');
    // The MDC acknowledged them all: the sites show them with the MDC's versions, nothing pending.
    for (const name of ['lost-a19', 'lost-b9']) {
      const domain = name.startsWith('lost-a') ? 'acme' : 'globex';
      const res = await mdc.get(`/domains/${domain}/entities/user/${name}`);
      expect(res.status).toBe(200);
    }

    // site-b is cut off from the MDC through the failover and writes meanwhile: back, its queue's
    // head meets a gap where DomainDB lost its seqs. site-a's queue is empty: its pull tells it.
    cluster.cut('site-b');
    await create(siteB, 'globex', 'after-b0');

    // Failover: the primary dies, the replica is promoted, DomainDB's address moves to it.
    await primary.kill();
    await replica.promote();
    // DomainDB did lose them (otherwise this test shows nothing) ...
    const kept = await withDb(replica.url('domaindb'), async (db) => ({
      names: (await db.query(`SELECT name FROM entities ORDER BY name`)).rows.map((r) => r.name as string),
      seqs: (await db.query(`SELECT site, last_seq::int AS seq FROM site_epochs ORDER BY site`)).rows,
    }));
    expect(kept).toEqual({
      names: [...acknowledged.acme, ...acknowledged.globex].filter((n) => n.startsWith('before-')).sort(),
      seqs: [
        { site: 'site-a', seq: 5 },
        { site: 'site-b', seq: 5 },
      ],
    });
    vip.retarget({ host: '127.0.0.1', port: replica.port });
    const names = async (domain: string) => (await listed(mdc, domain)).map((e) => e.name);
    // ... and gets them back from site-a with nobody asking: the MDC, its database back, tells its
    // sites to run a whole cycle (the periodic one is 10 minutes away).
    const atMdc = async () => new Set([...(await names('acme')), ...(await names('globex'))]);
    const fromA = [...acknowledged.acme, ...acknowledged.globex].filter((n) => /-a/.test(n));
    await cluster.waitFor(async () => {
      const at = await atMdc();
      return fromA.every((n) => at.has(n));
    }, 15_000);
    cluster.restore('site-b');
    await cluster.waitFor(async () => {
      const at = await atMdc();
      return [...acknowledged.acme, ...acknowledged.globex].every((n) => at.has(n));
    }, 15_000);
    expect(cluster.process('site-a').log).toContain('DomainDB had lost 26 acknowledged changes');
    expect(cluster.process('site-b').log).toContain('DomainDB had lost 10 acknowledged changes');

    for (const siteId of ['site-a', 'site-b', 'site-a', 'site-b']) await drained(siteId);

    for (const domain of ['acme', 'globex'] as const) {
      const atMdc = await listed(mdc, domain);
      expect(atMdc.map((e) => e.name).sort()).toEqual([...acknowledged[domain]].sort());
      expect(await listed(siteA, domain)).toEqual(atMdc);
      if (domain === 'globex') expect(await listed(siteB, domain)).toEqual(atMdc);
    }
    expect((await mdc.get('/domains/acme/entities/user/before-a0')).body.attributes).toEqual({
      n: 'before-a0',
      edited: true,
    });
    // Exactly once: no (site, epoch, seq) applied twice, and one applied create per entity.
    const audit = await withDb(replica.url('domaindb'), async (db) => ({
      twice: (
        await db.query(
          `SELECT site, epoch, seq FROM audit_log WHERE seq IS NOT NULL GROUP BY 1, 2, 3 HAVING count(*) > 1`,
        )
      ).rows,
      creates: (await db.query(`SELECT count(*)::int AS n FROM audit_log WHERE op = 'entity.create'`)).rows[0]
        .n,
    }));
    expect(audit).toEqual({ twice: [], creates: acknowledged.acme.length + acknowledged.globex.length });
    expect((await siteA.get('/sync/rejections')).body.items).toEqual([]);
    expect((await siteB.get('/sync/rejections')).body.items).toEqual([]);
  }, 120_000);
});
