import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import type { PullResponse, PushResponse, QueuedChange } from '../../libs/sync-protocol/src';
import { ClusterFiles, freePort } from '../harness/cluster-files';
import { withDb } from '../harness/domaindb';
import { AdminClient, SiteCaller } from '../harness/http';
import { TestMdc } from '../harness/mdc';
import { MDC_MAIN, SiteProcess } from '../harness/processes';
import { SseReader } from '../harness/sse';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls pull from `cursor` until `until` holds; returns every version it saw, in the order seen. */
async function readLog(
  site: SiteCaller,
  cursor: string,
  until: (seen: Set<string>) => boolean,
  timeoutMs = 10_000,
) {
  const seen: string[] = [];
  const deadline = Date.now() + timeoutMs;
  let c = cursor;
  while (!until(new Set(seen)) && Date.now() < deadline) {
    const page = (await site.call<PullResponse>('POST', '/sync/v1/pull', { cursor: c })).body;
    for (const change of page.changes) seen.push(change.version);
    c = page.cursor;
    if (!page.more) await sleep(20);
  }
  return { seen, cursor: c };
}

describe('MDC versions under concurrency (SPEC §3)', () => {
  let mdc: TestMdc;
  let admin: AdminClient;
  let siteA: SiteCaller;

  beforeAll(async () => {
    mdc = await TestMdc.start('concurrency');
    admin = mdc.admin();
    siteA = mdc.site('site-a');
    expect((await admin.post('/domains', { name: 'acme' })).status).toBe(201);
  });
  afterAll(() => mdc.stop());

  it('never lets a cursor reader skip a version that commits after it read a higher one', async () => {
    const slowTarget = (await admin.post('/domains/acme/entities', { kind: 'user', name: 'slow' })).body;
    const start = (await siteA.call<PullResponse>('POST', '/sync/v1/pull', { cursor: '0', limit: 10000 }))
      .body.cursor;

    // Hold the slow writer inside its transaction: a row lock it must wait for after it took its version.
    const holder = new Client({ connectionString: mdc.db.url });
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query('SELECT 1 FROM entities WHERE id = $1 FOR UPDATE', [slowTarget.id]);

    const slow = admin.patch('/domains/acme/entities/user/slow', { attributes: { slow: true } });
    await sleep(200);
    const fast = admin.post('/domains/acme/entities', { kind: 'user', name: 'fast' });
    await sleep(200);

    // While the slow writer is held, a reader must see neither write (the fast one cannot have overtaken it).
    const during = await readLog(siteA, start, () => false, 400);
    expect(during.seen).toEqual([]);

    await holder.query('ROLLBACK');
    await holder.end();
    const [slowRes, fastRes] = await Promise.all([slow, fast]);
    expect(slowRes.status).toBe(200);
    expect(fastRes.status).toBe(201);
    expect(BigInt(slowRes.body.version)).toBeLessThan(BigInt(fastRes.body.version));

    const after = await readLog(siteA, during.cursor, (s) => s.has(fastRes.body.version));
    expect(after.seen).toEqual([slowRes.body.version, fastRes.body.version]);
  });

  it('serves every version of many concurrent writers to a reader polling meanwhile, none skipped', async () => {
    const start = (await siteA.call<PullResponse>('POST', '/sync/v1/pull', { cursor: '0', limit: 10000 }))
      .body.cursor;
    const writers = Array.from({ length: 40 }, (_, i) =>
      admin
        .post('/domains/acme/entities', { kind: 'burst', name: `b${i}` })
        .then((r) => r.body.version as string),
    );
    const reader = readLog(siteA, start, (seen) => seen.size >= 40);
    const written = await Promise.all(writers);
    const { seen } = await reader;
    expect(new Set(seen)).toEqual(new Set(written));
    expect(seen).toEqual([...seen].sort((a, b) => Number(BigInt(a) - BigInt(b))));
  });
});

describe('Two MDC processes on one DomainDB (SPEC §11)', () => {
  let files: ClusterFiles;
  let first: TestMdc;
  let second: SiteProcess;

  beforeAll(async () => {
    files = await ClusterFiles.create({ zones: [{ domain: 'acme', sites: ['site-a', 'site-b'] }] });
    first = await TestMdc.start('replicas', files);
    const port = await freePort();
    second = SiteProcess.spawn('mdc-2', MDC_MAIN, {
      ...files.env('master'),
      PORT: String(port),
      DATABASE_URL: first.db.url,
    });
    await second.waitReady();
  });
  afterAll(async () => {
    await second.stop();
    await first.stop();
  });

  it('serves concurrent pushes from two sites through two replicas with no lost update and no version used twice', async () => {
    const admin = first.admin();
    expect((await admin.post('/domains', { name: 'acme' })).status).toBe(201);
    const shared = (await admin.post('/domains/acme/entities', { kind: 'user', name: 'shared' })).body;
    const viaFirst = first.site('site-a');
    const viaSecond = new SiteCaller(
      { id: 'master', url: second.url },
      'site-b',
      files.site('site-b').privateKey,
    );

    async function pushAll(site: SiteCaller, batches: number, perBatch: number): Promise<string[]> {
      const epoch = randomUUID();
      const statuses: string[] = [];
      let seq = 0;
      for (let b = 0; b < batches; b++) {
        const changes: QueuedChange[] = [];
        for (let i = 0; i < perBatch; i++) {
          seq += 1;
          const field = `${site.siteId}-${seq}`;
          const change =
            i % 2 === 0
              ? {
                  op: 'entity.update' as const,
                  id: shared.id,
                  domain: 'acme',
                  kind: 'user',
                  name: 'shared',
                  patch: { [field]: seq },
                }
              : {
                  op: 'entity.create' as const,
                  id: randomUUID(),
                  domain: 'acme',
                  kind: 'item',
                  name: field,
                  attributes: {},
                };
          changes.push({ seq, change, actor: 'ops', at: new Date().toISOString() });
        }
        const res = await site.call<PushResponse>('POST', '/sync/v1/push', { epoch, changes });
        expect(res.status).toBe(200);
        statuses.push(...res.body.verdicts.map((v) => v.status));
      }
      return statuses;
    }

    const [a, b] = await Promise.all([pushAll(viaFirst, 10, 20), pushAll(viaSecond, 10, 20)]);
    expect(new Set([...a, ...b])).toEqual(new Set(['applied']));
    expect(a.length + b.length).toBe(400);

    const stored = (await admin.get('/domains/acme/entities/user/shared')).body;
    expect(Object.keys(stored.attributes)).toHaveLength(200);
    await withDb(first.db.url, async (db) => {
      const { rows } = await db.query(
        `SELECT count(*)::int AS n, count(DISTINCT version)::int AS distinct_versions, max(version)::text AS top
           FROM audit_log WHERE site IN ('site-a', 'site-b')`,
      );
      expect(rows[0].n).toBe(400);
      expect(rows[0].distinct_versions).toBe(400);
      const head = await db.query(`SELECT value::text AS v FROM version_counter`);
      expect(BigInt(head.rows[0].v)).toBeGreaterThanOrEqual(BigInt(rows[0].top));
    });
  });

  it('delivers the change signal of a write applied by one replica to a site connected to the other', async () => {
    const site = new SiteCaller({ id: 'master', url: second.url }, 'site-a', files.site('site-a').privateKey);
    const path = '/sync/v1/signal';
    const stream = await SseReader.open(`${second.url}${path}`, site.headersFor('GET', path, undefined));
    try {
      await stream.next(0, 2000);
      const from = stream.events.length;
      const res = await first
        .admin()
        .post('/domains/acme/entities', { kind: 'user', name: `x-${randomUUID().slice(0, 6)}` });
      expect(await stream.next(from, 1000)).toEqual({ version: res.body.version });
    } finally {
      stream.close();
    }
  });
});
