import { TestCluster } from '../harness/cluster';
import type { ClusterFilesOptions } from '../harness/cluster-files';
import { withDb } from '../harness/domaindb';
import type { Reply } from '../harness/http';

type Zones = Array<{ domain: string; sites: string[] }>;

/** SPEC §4 zones changed by a config reload, and the tree every site lists (SPEC §5). */
describe('SDC zones: a config reload adds, moves and lists zones', () => {
  let cluster: TestCluster;
  const SITES = ['master', 'site-a', 'site-b'];

  beforeAll(async () => {
    cluster = await TestCluster.start('sdc-zones', {
      zones: [{ domain: 'acme', sites: ['site-a'] }],
      admins: [
        { name: 'acme-ops', token: 'acme-token', scope: ['acme'] },
        { name: 'corp-ops', token: 'corp-token', scope: ['corp'] },
      ],
      // The periodic cycle stays out of the way: the tests run the cycles they rely on.
      sdcEnv: { SYNC_INTERVAL_MS: '600000' },
    });
  }, 90_000);
  afterAll(() => cluster?.stop());

  const at = (site: string) => cluster.admin(site);
  const servedBy = (reply: Reply) => reply.headers.get('x-served-by');

  async function created(reply: Promise<Reply>): Promise<any> {
    const res = await reply;
    expect({ status: res.status, body: res.body }).toMatchObject({ status: 201 });
    return res.body;
  }

  /** The `servedBy` each site lists for `domain` (SPEC §5 GET /domains). */
  async function listedServedBy(site: string, domain: string): Promise<string[] | undefined> {
    const res = await at(site).get('/domains?limit=1000');
    return (res.body.items as Array<{ name: string; servedBy: string[] }>).find((d) => d.name === domain)
      ?.servedBy;
  }

  /**
   * Rewrites the config by a rename and waits until every process has it in force (SPEC §4: within
   * 1 s): each site lists `probe` as served by `expected`, and each work site reports its zones.
   */
  async function reloadZones(
    zones: Zones,
    probe: string,
    expected: string[],
    settings?: ClusterFilesOptions['cluster'],
  ): Promise<void> {
    cluster.reload({ zones, ...(settings ? { cluster: settings } : {}) });
    await cluster.waitFor(async () => {
      for (const site of SITES) {
        if (JSON.stringify(await listedServedBy(site, probe)) !== JSON.stringify(expected)) return false;
      }
      for (const site of cluster.workSites) {
        const zonesOfSite = zones.filter((z) => z.sites.includes(site)).map((z) => z.domain);
        const { servedZones } = await cluster.status(site);
        if (JSON.stringify([...servedZones].sort()) !== JSON.stringify(zonesOfSite.sort())) return false;
      }
      return true;
    }, 5000);
  }

  async function syncedOk(site: string): Promise<void> {
    const { lastCycle } = await cluster.sync(site);
    expect({ site, lastCycle }).toMatchObject({ site, lastCycle: { ok: true } });
  }

  it('loads every level of a zone a reload gives a site in one cycle', async () => {
    const levels = ['corp', 'eu.corp', 'sales.eu.corp'];
    for (const [i, name] of levels.entries()) {
      await created(at('master').post('/domains', { name, settings: { level: i + 1 } }));
      await created(
        at('master').post(`/domains/${name}/entities`, {
          kind: 'user',
          name: `user-${i + 1}`,
          attributes: { level: i + 1 },
        }),
      );
    }
    // Before the reload corp is the master's alone: site-b sends it there.
    expect(servedBy(await at('site-b').get('/domains/corp'))).toBe('master');

    // site-b is cut off while the reload lands, so the cycle the reload itself starts fails and
    // the one run below is the only cycle that can load the zone.
    cluster.cut('site-b');
    try {
      await reloadZones(
        [
          { domain: 'acme', sites: ['site-a'] },
          { domain: 'corp', sites: ['site-b'] },
        ],
        'corp',
        ['site-b'],
      );
    } finally {
      cluster.restore('site-b');
    }
    await syncedOk('site-b');

    for (const [i, name] of levels.entries()) {
      const local = await at('site-b').get(`/domains/${name}`);
      expect({ status: local.status, servedBy: servedBy(local) }).toEqual({
        status: 200,
        servedBy: 'site-b',
      });
      expect(local.body).toEqual((await at('master').get(`/domains/${name}`)).body);

      const path = `/domains/${name}/entities/user/user-${i + 1}`;
      const entity = await at('site-b').get(path);
      expect({ status: entity.status, servedBy: servedBy(entity) }).toEqual({
        status: 200,
        servedBy: 'site-b',
      });
      expect(entity.body).toEqual((await at('master').get(path)).body);
    }
  });

  it('moves a zone to another site: the new site serves it, the old one proxies it, and what was queued for it still reaches the MDC', async () => {
    await created(at('master').post('/domains', { name: 'acme', settings: { plan: 'gold' } }));
    await created(at('master').post('/domains/acme/entities', { kind: 'user', name: 'alice' }));
    await syncedOk('site-a');
    expect(servedBy(await at('site-a').get('/domains/acme'))).toBe('site-a');

    // A write at site-a while it is cut off stays queued there …
    cluster.cut('site-a');
    try {
      const queued = await at('site-a').post('/domains/acme/entities', {
        kind: 'user',
        name: 'bob',
        attributes: { written: 'at site-a, offline' },
      });
      expect({ status: queued.status, syncState: queued.headers.get('x-sync-state') }).toEqual({
        status: 201,
        syncState: 'pending',
      });
      expect((await cluster.status('site-a')).queue.length).toBe(1);

      // … when a reload takes the zone away from site-a and gives it to site-b.
      await reloadZones(
        [
          { domain: 'acme', sites: ['site-b'] },
          { domain: 'corp', sites: ['site-b'] },
        ],
        'acme',
        ['site-b'],
      );
    } finally {
      cluster.restore('site-a');
    }
    await syncedOk('site-a');
    await syncedOk('site-b');

    // SPEC §4: the site pushed what it still had queued for the zone before dropping it; SPEC §9: the
    // MDC took it, since the zone moved away from site-a within the grace (default 7 days).
    expect((await cluster.status('site-a')).queue.length).toBe(0);
    expect((await at('site-a').get('/sync/rejections')).body.items).toEqual([]);
    const atMdc = await at('master').get('/domains/acme/entities/user/bob');
    expect({ status: atMdc.status, attributes: atMdc.body.attributes }).toEqual({
      status: 200,
      attributes: { written: 'at site-a, offline' },
    });

    // site-b serves acme from its own data, equal to the MDC's.
    const domain = await at('site-b').get('/domains/acme');
    expect({ status: domain.status, servedBy: servedBy(domain) }).toEqual({
      status: 200,
      servedBy: 'site-b',
    });
    expect(domain.body).toEqual((await at('master').get('/domains/acme')).body);
    const entities = await at('site-b').get('/domains/acme/entities');
    expect(servedBy(entities)).toBe('site-b');
    expect(entities.body).toEqual((await at('master').get('/domains/acme/entities')).body);
    expect(entities.body.items.map((e: { name: string }) => e.name)).toEqual(['alice', 'bob']);

    // site-a no longer serves acme: it sends the request to site-b.
    const proxied = await at('site-a').get('/domains/acme/entities/user/bob');
    expect({ status: proxied.status, servedBy: servedBy(proxied) }).toEqual({
      status: 200,
      servedBy: 'site-b',
    });
    expect(proxied.body).toEqual(atMdc.body);
    expect((await cluster.status('site-a')).servedZones).toEqual([]);
  });

  it('lists the whole tree at every site, with servedBy per the config in force', async () => {
    await created(at('master').post('/domains', { name: 'initech' }));
    await created(at('master').post('/domains', { name: 'eu.acme' }));
    await reloadZones(
      [
        { domain: 'acme', sites: ['site-b'] },
        { domain: 'eu.acme', sites: ['site-a', 'site-b'] },
        { domain: 'corp', sites: ['site-b'] },
        { domain: 'sales.eu.corp', sites: ['site-a'] },
      ],
      'sales.eu.corp',
      ['site-a'],
    );
    for (const site of cluster.workSites) await syncedOk(site);

    const expected = [
      { name: 'acme', parent: null, servedBy: ['site-b'] },
      { name: 'corp', parent: null, servedBy: ['site-b'] },
      { name: 'eu.acme', parent: 'acme', servedBy: ['site-a', 'site-b'] },
      { name: 'eu.corp', parent: 'corp', servedBy: ['site-b'] },
      { name: 'initech', parent: null, servedBy: ['master'] },
      { name: 'master', parent: null, servedBy: ['master'] },
      { name: 'sales.eu.corp', parent: 'eu.corp', servedBy: ['site-a'] },
    ];
    for (const site of SITES) {
      const all = await at(site).get('/domains');
      expect({ site, status: all.status, servedBy: servedBy(all), body: all.body }).toEqual({
        site,
        status: 200,
        servedBy: site,
        body: { items: expected, next: null },
      });
      const children = await at(site).get('/domains?parent=eu.corp');
      expect({ site, body: children.body }).toEqual({
        site,
        body: { items: [{ name: 'sales.eu.corp', parent: 'eu.corp', servedBy: ['site-a'] }], next: null },
      });
    }
  });

  it('refuses as forbidden what the old site queued for a zone moved away longer ago than the grace, and lists it in its rejections', async () => {
    // acme is site-b's now (the test before). site-b writes in it while cut off …
    cluster.cut('site-b');
    let queued: Reply;
    try {
      queued = await at('site-b').post('/domains/acme/entities', {
        kind: 'user',
        name: 'late',
        attributes: { written: 'at site-b, offline' },
      });
      expect({ status: queued.status, syncState: queued.headers.get('x-sync-state') }).toEqual({
        status: 201,
        syncState: 'pending',
      });

      // … when a reload with a grace of 1 ms moves acme to site-a.
      await reloadZones(
        [
          { domain: 'acme', sites: ['site-a'] },
          { domain: 'eu.acme', sites: ['site-a', 'site-b'] },
          { domain: 'corp', sites: ['site-b'] },
          { domain: 'sales.eu.corp', sites: ['site-a'] },
        ],
        'acme',
        ['site-a'],
        { zoneMoveGraceMs: 1 },
      );
      // The MDC has recorded the move: site-b's period over acme has ended.
      await cluster.waitFor(() =>
        withDb(cluster.mdcDb.url, async (db) => {
          const { rows } = await db.query(
            `SELECT count(*)::int AS open FROM zone_assignments
              WHERE zone = 'acme' AND site = 'site-b' AND served_until IS NULL`,
          );
          return rows[0].open === 0;
        }),
      );
    } finally {
      cluster.restore('site-b');
    }
    await syncedOk('site-b');

    expect((await cluster.status('site-b')).queue.length).toBe(0);
    const rejections = (await at('site-b').get('/sync/rejections')).body.items;
    expect(rejections).toEqual([
      expect.objectContaining({
        op: 'entity.create',
        target: 'acme/user/late',
        reason: 'forbidden',
        message: 'site site-b does not serve domain "acme", so it may not change it',
        change: expect.objectContaining({
          id: queued.body.id,
          attributes: { written: 'at site-b, offline' },
        }),
      }),
    ]);
    expect((await at('master').get('/domains/acme/entities/user/late')).status).toBe(404);
  });

  it('shows an admin with a scoped token only the rejections of its scope, limit counting what it may see', async () => {
    // site-b (which serves corp) loses a create race in corp while cut off, after its refusal in acme.
    cluster.cut('site-b');
    try {
      const local = await at('site-b').post('/domains/corp/entities', { kind: 'user', name: 'race' });
      expect(local.status).toBe(201);
    } finally {
      cluster.restore('site-b');
    }
    await created(at('master').post('/domains/corp/entities', { kind: 'user', name: 'race' }));
    await syncedOk('site-b');

    const seen = async (token: string, query = '') => {
      const res = await cluster.admin('site-b', token).get(`/sync/rejections${query}`);
      expect(res.status).toBe(200);
      return res.body.items.map((r: { target: string; reason: string }) => `${r.target} ${r.reason}`);
    };
    expect(await seen('ops-token')).toEqual(['corp/user/race already_exists', 'acme/user/late forbidden']);
    expect(await seen('corp-token')).toEqual(['corp/user/race already_exists']);
    expect(await seen('acme-token')).toEqual(['acme/user/late forbidden']);
    // the newest rejection is corp's: acme-ops still gets one item of its own
    expect(await seen('acme-token', '?limit=1')).toEqual(['acme/user/late forbidden']);
    expect(await seen('ops-token', '?limit=1')).toEqual(['corp/user/race already_exists']);
  });
});
