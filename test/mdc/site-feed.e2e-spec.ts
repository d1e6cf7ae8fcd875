import { randomUUID } from 'node:crypto';
import {
  addElement,
  bucketOf,
  Change,
  computeBucketDigests,
  computeDomainDigest,
  digestsEqual,
  Domain,
  DomainDigest,
  elementHash,
  Entity,
  rootDigest,
  sumDigests,
} from '../../libs/directory/src';
import type {
  ManifestResponse,
  PullResponse,
  PushResponse,
  SnapshotRequest,
  SnapshotResponse,
} from '../../libs/sync-protocol/src';
import { withDb } from '../harness/domaindb';
import { ClusterFiles } from '../harness/cluster-files';
import { AdminClient, SiteCaller } from '../harness/http';
import { TestMdc } from '../harness/mdc';
import { SseReader } from '../harness/sse';

/** SPEC §8 from a site's side of the wire: pull by cursor, manifest, snapshot, change signal. */
describe('MDC site feed', () => {
  let mdc: TestMdc;
  let admin: AdminClient;
  let siteA: SiteCaller;

  beforeAll(async () => {
    const files = await ClusterFiles.create({
      zones: [
        { domain: 'acme', sites: ['site-a'] },
        { domain: 'globex', sites: ['site-b'] },
      ],
    });
    mdc = await TestMdc.start('feed', files);
    admin = mdc.admin();
    siteA = mdc.site('site-a');
    for (const name of ['acme', 'globex', 'sales.acme'])
      expect((await admin.post('/domains', { name })).status).toBe(201);
  });
  afterAll(() => mdc.stop());

  const pull = async (cursor: string, limit?: number) => {
    const res = await siteA.call<PullResponse>('POST', '/sync/v1/pull', {
      cursor,
      ...(limit ? { limit } : {}),
    });
    expect(res.status).toBe(200);
    return res.body;
  };
  const manifest = async (site = siteA, detail = true, buckets?: string[]) => {
    const res = await site.call<ManifestResponse>('POST', '/sync/v1/manifest', {
      detail,
      ...(buckets ? { buckets } : {}),
    });
    expect(res.status).toBe(200);
    return res.body;
  };
  const snapshotPage = async (request: SnapshotRequest, site = siteA) => {
    const res = await site.call<SnapshotResponse>('POST', '/sync/v1/snapshot', request);
    expect(res.status).toBe(200);
    return res.body;
  };
  /** Every page of a snapshot: the first page's answer, with the entities of all pages. */
  async function snapshotPages(request: SnapshotRequest, site = siteA) {
    const pages = [await snapshotPage(request, site)];
    while (pages[pages.length - 1].next)
      pages.push(await snapshotPage({ ...request, after: pages[pages.length - 1].next! }, site));
    return { ...pages[0], entities: pages.flatMap((p) => p.entities), pages };
  }
  const snapshot = (site = siteA) => snapshotPages({ tree: true }, site);
  let seq = 0;
  const epoch = randomUUID();
  /** Pushes changes as site-a, in batches of at most 1000; every one must be applied. */
  async function push(changes: Change[]) {
    for (let i = 0; i < changes.length; i += 1000) {
      const res = await siteA.call<PushResponse>('POST', '/sync/v1/push', {
        epoch,
        changes: changes
          .slice(i, i + 1000)
          .map((change) => ({ seq: ++seq, actor: 'ops', at: new Date().toISOString(), change })),
      });
      expect(res.status).toBe(200);
      expect(res.body.verdicts.filter((v) => v.status !== 'applied')).toEqual([]);
    }
  }
  const create = (domain: string, kind: string, name: string): Change & { op: 'entity.create' } => ({
    op: 'entity.create',
    id: randomUUID(),
    domain,
    kind,
    name,
    attributes: { name },
  });
  /** snapshot order: domain bytewise, bucket, id */
  const snapshotOrder = (a: Entity, b: Entity) =>
    Buffer.compare(Buffer.from(a.domain), Buffer.from(b.domain)) ||
    bucketOf(a.id) - bucketOf(b.id) ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

  describe('pull since a cursor', () => {
    it("returns creates, updates and deletes of the site's scope only, and the tree for everyone", async () => {
      const { cursor } = await pull('0', 10000);
      await admin.post('/domains/acme/entities', { kind: 'user', name: 'a1', attributes: { v: 1 } });
      await admin.post('/domains/acme/entities', { kind: 'user', name: 'a2' });
      await admin.patch('/domains/acme/entities/user/a1', { attributes: { v: 2 } });
      await admin.delete('/domains/acme/entities/user/a2');
      await admin.post('/domains/globex/entities', { kind: 'user', name: 'g1' });
      await admin.patch('/domains/globex', { settings: { secret: 'globex only' } });
      await admin.post('/domains', { name: 'eu.globex' });

      const page = await pull(cursor);
      expect(page.reload).toBe(false);
      const puts = page.changes.filter((c) => c.type === 'entity.put').map((c: any) => c.entity);
      expect(puts).toEqual([expect.objectContaining({ domain: 'acme', name: 'a1', attributes: { v: 2 } })]);
      const deletes = page.changes.filter((c) => c.type === 'entity.delete');
      expect(deletes).toEqual([expect.objectContaining({ domain: 'acme' })]);
      const globex = page.changes.find(
        (c: any) => c.type === 'domain.put' && c.domain.name === 'globex',
      ) as any;
      expect(globex).toMatchObject({ scoped: false, domain: { settings: {} } });
      const eu = page.changes.find((c: any) => c.type === 'domain.put' && c.domain.name === 'eu.globex');
      expect(eu).toBeDefined();
      expect(BigInt(page.cursor)).toBeGreaterThan(BigInt(cursor));
      expect((await pull(page.cursor)).changes).toEqual([]);
    });

    it('pages by version without splitting one and without losing any', async () => {
      const { cursor } = await pull('0', 10000);
      for (let i = 0; i < 7; i++) await admin.post('/domains/acme/entities', { kind: 'page', name: `p${i}` });
      const seen: string[] = [];
      let c = cursor;
      for (let more = true; more;) {
        const page = await pull(c, 3);
        seen.push(...page.changes.map((x: any) => x.entity?.name));
        more = page.more;
        c = page.cursor;
      }
      expect(seen).toEqual(['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6']);
    });

    it('includes the read-only master domain for every site', async () => {
      const { cursor } = await pull('0', 10000);
      await admin.post('/domains/master/entities', { kind: 'admin', name: 'root' });
      const page = await pull(cursor);
      expect(page.changes).toEqual([
        expect.objectContaining({
          type: 'entity.put',
          entity: expect.objectContaining({ domain: 'master', name: 'root' }),
        }),
      ]);
    });

    it('tells a site whose cursor is ahead of DomainDB to reload', async () => {
      expect((await pull('999999999')).reload).toBe(true);
    });
  });

  describe('manifest', () => {
    async function fromScratch(site: SiteCaller) {
      const snap = await snapshot(site);
      const byDomain = new Map<string, Entity[]>();
      for (const e of snap.entities) byDomain.set(e.domain, [...(byDomain.get(e.domain) ?? []), e]);
      const scoped = snap.tree!.filter((t) => t.scoped).map((t) => t.domain as Domain);
      return new Map(scoped.map((d) => [d.name, computeDomainDigest(d, byDomain.get(d.name) ?? [])]));
    }

    it('keeps each digest incrementally equal to one recomputed from scratch after a random mix of writes', async () => {
      const names: string[] = [];
      let seed = 7;
      const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
      const domains = ['acme', 'sales.acme'];
      for (let i = 0; i < 120; i++) {
        const domain = domains[rand(2)];
        const action = names.length === 0 ? 0 : rand(3);
        if (action === 0) {
          const name = `m${i}`;
          const res = await admin.post(`/domains/${domain}/entities`, {
            kind: 'mix',
            name,
            attributes: { i },
          });
          if (res.status === 201) names.push(`${domain}/${name}`);
        } else {
          const [d, n] = names[rand(names.length)].split('/');
          if (action === 1)
            await admin.patch(`/domains/${d}/entities/mix/${n}`, {
              attributes: { i, [`k${rand(5)}`]: rand(100) },
            });
          else {
            await admin.delete(`/domains/${d}/entities/mix/${n}`);
            names.splice(names.indexOf(`${d}/${n}`), 1);
          }
        }
      }
      // a pushed change and a domain settings patch move digests too
      await admin.patch('/domains/sales.acme', { settings: { region: 'eu' } });
      const push = await siteA.call<PushResponse>('POST', '/sync/v1/push', {
        epoch: randomUUID(),
        changes: [
          {
            seq: 1,
            actor: 'ops',
            at: new Date().toISOString(),
            change: {
              op: 'entity.create',
              id: randomUUID(),
              domain: 'acme',
              kind: 'mix',
              name: 'pushed',
              attributes: {},
            },
          },
        ],
      });
      expect(push.body.verdicts[0].status).toBe('applied');

      const expected = await fromScratch(siteA);
      const got = await manifest();
      expect(new Map(got.domains!.map(({ name, count, sum }) => [name, { count, sum }]))).toEqual(expected);
      expect(got.root).toBe(rootDigest(expected));
      expect(new Set(got.domains!.map((d) => d.name))).toEqual(new Set(['acme', 'sales.acme', 'master']));
    });

    it("changes exactly one domain's digest and the root when one entity changes", async () => {
      await admin.post('/domains/sales.acme/entities', { kind: 'one', name: 'target' });
      const before = await manifest();
      await admin.patch('/domains/sales.acme/entities/one/target', { attributes: { touched: true } });
      const after = await manifest();
      const changed = after.domains!.filter((d) => {
        const old = before.domains!.find((b) => b.name === d.name)!;
        return old.sum !== d.sum || old.count !== d.count;
      });
      expect(changed.map((d) => d.name)).toEqual(['sales.acme']);
      expect(after.root).not.toBe(before.root);
    });

    it('answers the root alone when no detail is asked for, so a no-change cycle compares one value', async () => {
      const root = await manifest(siteA, false);
      expect(root.domains).toBeUndefined();
      expect(root.root).toBe((await manifest()).root);
    });
  });

  describe('paged snapshot (SPEC §8 scale)', () => {
    let live: Entity[];

    beforeAll(async () => {
      expect((await admin.post('/domains', { name: 'big.acme' })).status).toBe(201);
      const created = Array.from({ length: 3000 }, (_, i) => create('big.acme', 'bulk', `b${i}`));
      await push(created);
      const gone = created.filter((_, i) => i % 15 === 0);
      await push(gone.map(({ id, domain, kind, name }) => ({ op: 'entity.delete', id, domain, kind, name })));
      const goneIds = new Set(gone.map((c) => c.id));
      live = (await snapshotPages({ domains: ['big.acme'] })).entities;
      expect(live).toHaveLength(3000 - gone.length);
      expect(live.some((e) => goneIds.has(e.id))).toBe(false);
    });

    it('counts a snapshot page as the site resyncing (not stale however long its load), without moving its pulled version', async () => {
      const siteB = mdc.site('site-b');
      const statusOf = async () => {
        const res = await admin.get('/cluster/status');
        expect(res.status).toBe(200);
        return res.body.sites.find((s: { site: string }) => s.site === 'site-b');
      };
      const before = await statusOf();
      await new Promise((r) => setTimeout(r, 20));
      await snapshotPage({ limit: 10 }, siteB);
      const after = await statusOf();
      expect(after.stale).toBe(false);
      expect(Date.parse(after.lastResyncAt)).toBeGreaterThan(
        before.lastResyncAt ? Date.parse(before.lastResyncAt) : 0,
      );
      expect(after.lagVersions).toBe(before.lagVersions);
      expect(after.lastPushAt).toBe(before.lastPushAt);
    });

    it('returns every live entity exactly once, in (domain, bucket, id) order, a page at a time', async () => {
      const all = await snapshotPages({ domains: ['big.acme'], limit: 500 });
      expect(all.pages.length).toBe(Math.ceil(live.length / 500) + (live.length % 500 === 0 ? 1 : 0));
      expect(all.pages.slice(0, -1).every((p) => p.entities.length === 500)).toBe(true);
      expect(all.pages[all.pages.length - 1].next).toBeNull();
      const ids = all.entities.map((e) => e.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(all.entities).toEqual([...live].sort(snapshotOrder));
      expect(all.entities.map((e) => e.name).sort()).toEqual(live.map((e) => e.name).sort());
      const last = all.pages[0].entities[499];
      expect(all.pages[0].next).toEqual({ domain: 'big.acme', bucket: bucketOf(last.id), id: last.id });
    });

    it('sends the records, and the tree when asked, on the first page only', async () => {
      const all = await snapshotPages({ tree: true, domains: ['big.acme', 'acme'], limit: 1000 });
      const [first, ...rest] = all.pages;
      expect(first.records.map((d) => d.name)).toEqual(['acme', 'big.acme']);
      expect(first.tree!.map((t) => t.domain.name)).toEqual(expect.arrayContaining(['globex', 'big.acme']));
      expect(first.tree!.find((t) => t.domain.name === 'globex')).toMatchObject({
        scoped: false,
        domain: { settings: {} },
      });
      expect(rest.length).toBeGreaterThan(0);
      for (const page of rest) {
        expect(page.records).toEqual([]);
        expect(page.tree).toBeUndefined();
      }
      expect((await snapshotPage({ domains: ['acme'] })).tree).toBeUndefined();
    });

    it('sends only the listed buckets of a slice', async () => {
      const spread = [live[0], live[Math.floor(live.length / 2)], live[live.length - 1]];
      const buckets = [...new Set(spread.map((e) => bucketOf(e.id)))];
      const all = await snapshotPages({ slices: [{ domain: 'big.acme', buckets }], limit: 7 });
      const expected = live.filter((e) => buckets.includes(bucketOf(e.id))).sort(snapshotOrder);
      expect(expected.length).toBeGreaterThan(7);
      expect(all.entities).toEqual(expected);
      expect(all.records.map((d) => d.name)).toEqual(['big.acme']);
    });

    it("never sends a domain out of the site's scope, asked for or not", async () => {
      expect(await snapshotPage({ domains: ['globex'] })).toMatchObject({
        records: [],
        entities: [],
        next: null,
      });
      expect(await snapshotPage({ slices: [{ domain: 'globex', buckets: [0, 1, 2] }] })).toMatchObject({
        records: [],
        entities: [],
      });
      const whole = await snapshotPages({ limit: 1000 });
      expect(new Set(whole.entities.map((e) => e.domain))).not.toContain('globex');
      expect(whole.records.map((d) => d.name)).not.toContain('globex');
      expect(whole.entities.filter((e) => e.domain === 'big.acme')).toHaveLength(live.length);
    });

    it.each([
      ['a bucket past 255', { slices: [{ domain: 'big.acme', buckets: [256] }] }],
      ['a page of 0', { limit: 0 }],
      ['slices with domains', { domains: ['acme'], slices: [{ domain: 'big.acme', buckets: [1] }] }],
      ['a cursor that is not one', { after: { domain: 'big.acme', bucket: 1, id: 'nope' } }],
    ])('refuses %s with 400', async (_, body) => {
      expect((await siteA.call('POST', '/sync/v1/snapshot', body)).status).toBe(400);
    });
  });

  describe('bucket digests (SPEC §8 scale)', () => {
    it('answers the buckets of the requested domains in scope only', async () => {
      await admin.post('/domains/globex/entities', { kind: 'user', name: `g-${randomUUID().slice(0, 6)}` });
      const got = await manifest(siteA, false, ['acme', 'globex', 'nowhere']);
      expect(got.domains).toBeUndefined();
      expect(got.buckets!.map((b) => b.name)).toEqual(['acme']);
      expect(got.buckets![0].buckets.every((b) => b.count > 0)).toBe(true);
      expect((await siteA.call('POST', '/sync/v1/manifest', { buckets: 'acme' })).status).toBe(400);
    });

    it('keeps every bucket equal to a recount after pushed creates, updates, deletes and a domain delete', async () => {
      const doomed = await admin.post('/domains', { name: 'doomed.acme' });
      expect(doomed.status).toBe(201);
      const made = [
        ...Array.from({ length: 40 }, (_, i) => create('sales.acme', 'inv', `s${i}`)),
        ...Array.from({ length: 30 }, (_, i) => create('doomed.acme', 'inv', `d${i}`)),
      ];
      await push(made);
      const sales = made.filter((c) => c.domain === 'sales.acme');
      await push([
        ...sales.slice(0, 10).map(({ id, domain, kind, name }): Change => ({
          op: 'entity.update',
          id,
          domain,
          kind,
          name,
          patch: { touched: true },
        })),
        ...sales.slice(10, 20).map(({ id, domain, kind, name }): Change => ({
          op: 'entity.delete',
          id,
          domain,
          kind,
          name,
        })),
        { op: 'domain.delete', id: doomed.body.id, name: 'doomed.acme', recursive: true },
      ]);

      const stored = await withDb(mdc.db.url, async (db) => {
        const buckets = await db.query(`SELECT domain, bucket, count, sum::text AS sum FROM digest_buckets`);
        const entities = await db.query(
          `SELECT id, domain, kind, name, attributes, version::text AS version FROM entities WHERE deleted_at IS NULL`,
        );
        return { buckets: buckets.rows, entities: entities.rows as Entity[] };
      });
      const byDomain = new Map<string, Entity[]>();
      for (const e of stored.entities) {
        if (!byDomain.has(e.domain)) byDomain.set(e.domain, []);
        byDomain.get(e.domain)!.push(e);
      }
      const recount = [...byDomain].flatMap(([domain, entities]) =>
        [...computeBucketDigests(entities)].map(([bucket, d]) => ({ domain, bucket, ...d })),
      );
      const key = (r: { domain: string; bucket: number }) => `${r.domain}/${r.bucket}`;
      const sorted = <T extends { domain: string; bucket: number }>(rows: T[]) =>
        [...rows].sort((a, b) => key(a).localeCompare(key(b)));
      expect(sorted(stored.buckets)).toEqual(sorted(recount));
      expect(stored.buckets.some((r: { domain: string }) => r.domain === 'doomed.acme')).toBe(false);

      // each domain digest is its record plus the sum of its buckets, as the manifest answers them
      const snap = await snapshot();
      const scoped = snap.tree!.filter((t) => t.scoped).map((t) => t.domain as Domain);
      const got = await manifest(
        siteA,
        true,
        scoped.map((d) => d.name),
      );
      const buckets = new Map(got.buckets!.map((b) => [b.name, b.buckets]));
      for (const d of got.domains!) {
        const record = scoped.find((r) => r.name === d.name)!;
        const fromBuckets: DomainDigest = addElement(sumDigests(buckets.get(d.name)!), elementHash(record));
        expect({ name: d.name, equal: digestsEqual(fromBuckets, d) }).toEqual({ name: d.name, equal: true });
        const entities = snap.entities.filter((e) => e.domain === d.name);
        expect(buckets.get(d.name)).toEqual(
          [...computeBucketDigests(entities)]
            .sort(([a], [b]) => a - b)
            .map(([bucket, { count, sum }]) => ({ bucket, count, sum })),
        );
      }
    });
  });

  describe('change signal', () => {
    it("signals a change in the site's scope and a tree change, but not another site's entity change", async () => {
      const path = '/sync/v1/signal';
      const stream = await SseReader.open(`${mdc.url}${path}`, siteA.headersFor('GET', path, undefined));
      try {
        expect(stream.status).toBe(200);
        expect(await stream.next(0, 2000)).toEqual({ version: expect.any(String) });
        let from = stream.events.length;
        await admin.post('/domains/globex/entities', {
          kind: 'user',
          name: `quiet-${randomUUID().slice(0, 6)}`,
        });
        expect(await stream.next(from, 300)).toBeNull();
        const res = await admin.post('/domains/acme/entities', {
          kind: 'user',
          name: `loud-${randomUUID().slice(0, 6)}`,
        });
        expect(await stream.next(from, 1000)).toEqual({ version: res.body.version });
        from = stream.events.length;
        const tree = await admin.post('/domains', { name: `new${randomUUID().slice(0, 6)}` });
        expect(await stream.next(from, 1000)).toEqual({ version: tree.body.version });
      } finally {
        stream.close();
      }
    });

    it('refuses an unsigned subscription', async () => {
      const stream = await SseReader.open(`${mdc.url}/sync/v1/signal`, {});
      stream.close();
      expect(stream.status).toBe(401);
    });
  });
});

describe('MDC tombstone retention', () => {
  let mdc: TestMdc;

  beforeAll(async () => {
    const files = await ClusterFiles.create({
      zones: [{ domain: 'acme', sites: ['site-a'] }],
      cluster: { tombstoneRetentionMs: 1500 },
    });
    mdc = await TestMdc.start('retention', files);
  });
  afterAll(() => mdc.stop());

  it('sends "reload" to a cursor older than the retention, and keeps serving a fresh cursor', async () => {
    const admin = mdc.admin();
    const site = mdc.site('site-a');
    await admin.post('/domains', { name: 'acme' });
    await admin.post('/domains/acme/entities', { kind: 'user', name: 'gone' });
    await admin.delete('/domains/acme/entities/user/gone');
    const pull = async (cursor: string) =>
      (await site.call<PullResponse>('POST', '/sync/v1/pull', { cursor })).body;
    expect((await pull('0')).reload).toBe(false);
    const deadline = Date.now() + 10_000;
    let answer = await pull('0');
    while (!answer.reload && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      answer = await pull('0');
    }
    expect(answer.reload).toBe(true);
    const head = answer.cursor;
    expect(await pull(head)).toMatchObject({ reload: false, changes: [] });
  });
});
