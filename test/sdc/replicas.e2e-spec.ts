import { AdminClient } from '../harness/http';
import { freePort } from '../harness/cluster-files';
import { TestCluster } from '../harness/cluster';
import { SDC_MAIN, SiteProcess } from '../harness/processes';

/** SPEC §11: several SDC replicas of one site share the site's Redis; nothing relies on being the only one. */
describe('two SDC replicas of one site', () => {
  let cluster: TestCluster | undefined;
  let second: SiteProcess | undefined;
  let first: AdminClient;
  let other: AdminClient;

  beforeAll(async () => {
    cluster = await TestCluster.start('replicas', {
      sites: ['master', 'site-a'],
      zones: [{ domain: 'acme', sites: ['site-a'] }],
      sdcEnv: { SYNC_INTERVAL_MS: '600000' },
    });
    const port = await freePort();
    second = SiteProcess.spawn('sdc(site-a#2)', SDC_MAIN, { ...cluster.envOf('site-a'), PORT: String(port) });
    await second.waitReady();
    first = cluster.admin('site-a');
    other = new AdminClient(second.url, 'ops-token');
    expect((await cluster.admin('master').post('/domains', { name: 'acme' })).status).toBe(201);
    await cluster.sync('site-a');
  });
  afterAll(async () => {
    await second?.stop();
    await cluster?.stop();
  });

  it('gives concurrent writes at both replicas distinct seqs in one queue that drains to the MDC exactly once', async () => {
    cluster!.cut('site-a');
    const writes = Array.from({ length: 30 }, (_, i) =>
      (i % 2 === 0 ? first : other).post('/domains/acme/entities', { kind: 'user', name: `r${i}` }),
    );
    const answers = await Promise.all(writes);
    expect(answers.map((a) => a.status)).toEqual(Array(30).fill(201));
    const seqs = answers.map((a) => a.body.version.split('.').pop());
    expect(new Set(seqs).size).toBe(30);
    // Both replicas read the one cache: each sees the other's writes.
    expect((await other.get('/domains/acme/entities/user/r0')).status).toBe(200);
    expect((await first.get('/domains/acme/entities/user/r1')).status).toBe(200);
    expect((await first.get('/sync/status')).body.queue.length).toBe(30);

    cluster!.restore('site-a');
    await cluster!.waitFor(
      async () => (await first.get('/sync/status')).body.queue.length === 0,
      15_000,
      200,
    );
    await cluster!.sync('site-a');
    const mdc = cluster!.admin('master');
    const listed = await mdc.get('/domains/acme/entities?kind=user&limit=1000');
    expect(listed.body.items.map((e: { name: string }) => e.name).sort()).toEqual(
      Array.from({ length: 30 }, (_, i) => `r${i}`).sort(),
    );
    expect((await first.get('/sync/rejections')).body.items).toEqual([]);
    const audit = await mdc.get('/audit?domain=acme&limit=1000');
    expect(audit.body.items.filter((i: { op: string }) => i.op === 'entity.create')).toHaveLength(30);
  });

  it('runs one sync cycle at a time for the site, whichever replica is asked', async () => {
    const [a, b] = await Promise.all([first.post('/sync/run', {}), other.post('/sync/run', {})]);
    expect([a.status, b.status]).toEqual([200, 200]);
    const [x, y] = [a.body.lastCycle, b.body.lastCycle];
    const [early, late] = Date.parse(x.at) <= Date.parse(y.at) ? [x, y] : [y, x];
    // The site's cycle lock: the later cycle starts after the earlier one ended.
    expect(Date.parse(late.at)).toBeGreaterThanOrEqual(Date.parse(early.at) + early.durationMs - 5);
  });
});
