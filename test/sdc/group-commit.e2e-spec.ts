import { AdminClient } from '../harness/http';
import { freePort } from '../harness/cluster-files';
import { TestCluster } from '../harness/cluster';
import { SDC_MAIN, SiteProcess } from '../harness/processes';

interface Answer {
  status: number;
  body: { code?: string; version?: string; name?: string };
}

/** The seq of a write accepted at a site: its provisional version `<mdc version>+<site>.<seq>` (SPEC §3). */
function seqOf(a: Answer): number {
  return Number(a.body.version!.split('.').pop());
}

/**
 * SPEC §6 group commit and SPEC §5 `POST /batch`, on real processes: writes that arrive together
 * are decided together, in arrival order, each keeping its own verdict and seq.
 */
describe('group commit and POST /batch (issue 15)', () => {
  let cluster: TestCluster | undefined;
  let second: SiteProcess | undefined;
  let a: AdminClient;
  let a2: AdminClient;
  let mdc: AdminClient;

  beforeAll(async () => {
    cluster = await TestCluster.start('groupcommit', {
      sites: ['master', 'site-a', 'site-b'],
      zones: [
        { domain: 'acme', sites: ['site-a'] },
        { domain: 'globex', sites: ['site-b'] },
      ],
      admins: [{ name: 'acme-ops', token: 'acme-token', scope: ['acme'] }],
      sdcEnv: { SYNC_INTERVAL_MS: '600000' },
    });
    const port = await freePort();
    second = SiteProcess.spawn('sdc(site-a#2)', SDC_MAIN, { ...cluster.envOf('site-a'), PORT: String(port) });
    await second.waitReady();
    a = cluster.admin('site-a');
    a2 = new AdminClient(second.url, 'ops-token');
    mdc = cluster.admin('master');
    for (const name of ['acme', 'globex', 'initech']) {
      expect((await mdc.post('/domains', { name })).status).toBe(201);
    }
    await cluster.sync('site-a');
    await cluster.sync('site-b');
  }, 90_000);
  afterAll(async () => {
    await second?.stop();
    await cluster?.stop();
  });

  /** Drains site-a's queue and answers what the MDC holds and audited of `kind` in acme. */
  async function atMdc(kind: string) {
    await cluster!.waitFor(async () => (await a.get('/sync/status')).body.queue.length === 0, 20_000, 100);
    const listed = await mdc.get(`/domains/acme/entities?kind=${kind}&limit=1000`);
    const audit = await mdc.get('/audit?domain=acme&limit=1000');
    const creates = audit.body.items.filter(
      (i: { op: string; change: { kind?: string } }) => i.op === 'entity.create' && i.change.kind === kind,
    );
    return { names: listed.body.items.map((e: { name: string }) => e.name) as string[], creates };
  }

  async function concurrentWrites(kind: string, clients: AdminClient[]) {
    const before = (await a.get('/sync/status')).body;
    cluster!.cut('site-a'); // nothing drains while the burst lands: the queue shows every seq
    const requests = Array.from({ length: 200 }, (_, i) => {
      const name = i % 10 === 0 ? 'contested' : `w${i}`; // 20 creates of one name
      return clients[i % clients.length].post('/domains/acme/entities', { kind, name, attributes: { i } });
    });
    const answers = (await Promise.all(requests)) as Answer[];
    const contested = answers.filter((_, i) => i % 10 === 0);
    expect(contested.filter((x) => x.status === 201)).toHaveLength(1);
    expect(contested.filter((x) => x.status === 409).map((x) => x.body.code)).toEqual(
      Array(19).fill('already_exists'),
    );
    const others = answers.filter((_, i) => i % 10 !== 0);
    expect(others.map((x) => x.status)).toEqual(Array(180).fill(201));
    const seqs = answers
      .filter((x) => x.status === 201)
      .map(seqOf)
      .sort((x, y) => x - y);
    const first = seqs[0];
    expect(seqs).toEqual(Array.from({ length: 181 }, (_, i) => first + i)); // contiguous, none twice
    const status = (await a.get('/sync/status')).body;
    expect(status.queue.length).toBe(before.queue.length + 181);
    cluster!.restore('site-a');
    await a.post('/sync/run', {});
    const { names, creates } = await atMdc(kind);
    expect(names.sort()).toEqual(
      [
        'contested',
        ...Array.from({ length: 200 }, (_, i) => i)
          .filter((i) => i % 10 !== 0)
          .map((i) => `w${i}`),
      ].sort(),
    );
    expect(creates).toHaveLength(181); // each reached the MDC once
    expect((await a.get('/sync/rejections')).body.items).toEqual([]);
  }

  it('decides 200 concurrent writes at one replica: one create of a name wins, seqs contiguous, each at the MDC once', async () => {
    await concurrentWrites('one', [a]);
  });

  it('does the same across two SDC replicas of the site', async () => {
    await concurrentWrites('two', [a, a2]);
  });

  it('applies a batch in order with a verdict per op; a refused op does not stop the rest', async () => {
    const ops = [
      {
        method: 'POST',
        path: '/domains/acme/entities',
        body: { kind: 'b', name: 'x', attributes: { n: 1 } },
      },
      { method: 'PATCH', path: '/domains/acme/entities/b/x', body: { attributes: { m: 2 } } },
      { method: 'POST', path: '/domains/acme/entities', body: { kind: 'b', name: 'x' } },
      { method: 'GET', path: '/domains/acme/entities/b/x' },
      { method: 'DELETE', path: '/domains/acme/entities/b/nope' },
      { method: 'POST', path: '/domains/acme/entities', body: { kind: 'b', name: 'bad\u0000name' } },
      { method: 'POST', path: '/domains/acme/entities', body: { kind: 'b', name: 'y', extra: 1 } },
      { method: 'POST', path: '/domains/globex/entities', body: { kind: 'b', name: 'z' } },
      { method: 'GET', path: '/nowhere' },
      { method: 'POST', path: '/domains', body: { name: 'sub.acme' } },
      { method: 'POST', path: '/domains/sub.acme/entities', body: { kind: 'b', name: 'w' } },
      { method: 'DELETE', path: '/domains/acme/entities/b/x', ifMatch: '"1"' },
      { method: 'DELETE', path: '/domains/acme/entities/b/x' },
      { method: 'GET', path: '/domains/acme/entities/b/x' },
    ];
    const res = await a.post('/batch', { ops });
    expect(res.status).toBe(200);
    const results = res.body.results as Array<{ status: number; body: Record<string, unknown> | null }>;
    expect(results.map((r) => r.status)).toEqual([
      201, 200, 409, 200, 404, 400, 400, 421, 400, 201, 201, 409, 204, 404,
    ]);
    expect(results[0].body).toMatchObject({ kind: 'b', name: 'x', attributes: { n: 1 }, pending: true });
    expect(results[1].body).toMatchObject({ attributes: { n: 1, m: 2 } }); // sees the create before it
    expect(results[2].body).toMatchObject({ code: 'already_exists' });
    expect(results[3].body).toMatchObject({ attributes: { n: 1, m: 2 } }); // a read sees the writes before it
    expect(results[4].body).toMatchObject({ code: 'entity_not_found' });
    expect(results[5].body).toMatchObject({ code: 'validation_failed' });
    expect(results[6].body).toMatchObject({ code: 'validation_failed' });
    expect(results[7].body).toMatchObject({ code: 'misdirected' });
    expect(results[11].body).toMatchObject({ code: 'version_conflict' });
    expect(results[12].body).toBeNull();
    // Every accepted op reached the MDC, in order, once.
    await a.post('/sync/run', {});
    await cluster!.waitFor(async () => (await a.get('/sync/status')).body.queue.length === 0, 20_000, 100);
    expect((await mdc.get('/domains/acme/entities/b/x')).status).toBe(404);
    expect((await mdc.get('/domains/sub.acme/entities/b/w')).status).toBe(200);
    const audit = (await mdc.get('/audit?domain=acme&limit=1000')).body.items.filter(
      (i: { change: { kind?: string } }) => i.change.kind === 'b',
    );
    expect(audit.map((i: { op: string }) => i.op).sort()).toEqual([
      'entity.create',
      'entity.delete',
      'entity.update',
    ]);
  });

  it('answers 421 for a domain of its zone it does not hold yet, unless an earlier op creates it', async () => {
    cluster!.cut('site-a'); // site-a cannot hear of late.acme
    expect((await mdc.post('/domains', { name: 'late.acme' })).status).toBe(201);
    const res = await a.post('/batch', {
      ops: [
        { method: 'PATCH', path: '/domains/late.acme', body: { settings: { a: 1 } } },
        { method: 'POST', path: '/domains/late.acme/entities', body: { kind: 'l', name: 'x' } },
        { method: 'POST', path: '/domains/early.acme/entities', body: { kind: 'l', name: 'x' } },
        { method: 'POST', path: '/domains', body: { name: 'early.acme' } },
        { method: 'POST', path: '/domains/early.acme/entities', body: { kind: 'l', name: 'y' } },
      ],
    });
    cluster!.restore('site-a');
    expect(res.body.results.map((r: { status: number }) => r.status)).toEqual([421, 421, 421, 201, 201]);
  });

  it('tags every read with ETag: "<version>" — here, through a proxy hop and at the MDC — and If-Match takes it back', async () => {
    const created = await a.post('/domains/acme/entities', { kind: 'tag', name: 't' });
    expect(created.headers.get('etag')).toBe(`"${created.body.version}"`);
    // Once the MDC's own version is back at the site (no `+site.seq`: SPEC §3), nothing moves it
    // under the conditional write below.
    await cluster!.waitFor(
      async () => !(await a.get('/domains/acme/entities/tag/t')).body.version.includes('+'),
      20_000,
      50,
    );
    const read = await a.get('/domains/acme/entities/tag/t');
    expect(read.headers.get('etag')).toBe(`"${read.body.version}"`);
    const stale = await a.patch(
      '/domains/acme/entities/tag/t',
      { attributes: { a: 1 } },
      { 'if-match': '"1"' },
    );
    expect([stale.status, stale.body.code]).toEqual([409, 'version_conflict']);
    const fresh = await a.patch(
      '/domains/acme/entities/tag/t',
      { attributes: { a: 1 } },
      { 'if-match': read.headers.get('etag')! },
    );
    expect(fresh.status).toBe(200);
    expect(fresh.headers.get('etag')).toBe(`"${fresh.body.version}"`);
    const proxied = await a.get('/domains/initech'); // served by the master only: one hop
    expect(proxied.headers.get('x-served-by')).toBe('master');
    expect(proxied.headers.get('etag')).toBe(`"${proxied.body.version}"`);
    const atMdc = await mdc.get('/domains/initech');
    expect(atMdc.headers.get('etag')).toBe(`"${atMdc.body.version}"`);
  });

  it('checks scope per op: an admin scoped to acme gets 403 for the ops outside it', async () => {
    const scoped = new AdminClient(cluster!.url('master'), 'acme-token');
    const res = await scoped.post('/batch', {
      ops: [
        { method: 'POST', path: '/domains/acme/entities', body: { kind: 's', name: 'in' } },
        { method: 'POST', path: '/domains/initech/entities', body: { kind: 's', name: 'out' } },
        { method: 'GET', path: '/domains/initech' },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.results.map((r: { status: number }) => r.status)).toEqual([201, 403, 403]);
    expect(res.body.results[1].body).toMatchObject({ code: 'forbidden' });
    expect((await mdc.get('/domains/initech/entities/s/out')).status).toBe(404);
    expect((await mdc.get('/domains/acme/entities/s/in')).body).toMatchObject({ name: 'in' });
  });

  it('refuses a batch of 1001 ops, or no ops, as a whole (400) and applies none of it', async () => {
    const ops = Array.from({ length: 1001 }, (_, i) => ({
      method: 'POST',
      path: '/domains/acme/entities',
      body: { kind: 'big', name: `n${i}` },
    }));
    for (const body of [{ ops }, { ops: [] }, { ops: 'x' }, {}]) {
      const res = await a.post('/batch', body);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('validation_failed');
    }
    expect((await a.get('/domains/acme/entities?kind=big')).body.items).toEqual([]);
  });

  it('applies 1000 creates in one batch at the MDC, each with its own version', async () => {
    const ops = Array.from({ length: 1000 }, (_, i) => ({
      method: 'POST',
      path: '/domains/initech/entities',
      body: { kind: 'bulk', name: `m${i}` },
    }));
    const res = await mdc.post('/batch', { ops });
    expect(res.status).toBe(200);
    const results = res.body.results as Array<{ status: number; body: { version: string } }>;
    expect(results.every((r) => r.status === 201)).toBe(true);
    const versions = results.map((r) => BigInt(r.body.version));
    versions.forEach((v, i) => i > 0 && expect(v).toBe(versions[i - 1] + 1n));
  });
});
