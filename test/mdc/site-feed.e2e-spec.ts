import { randomUUID } from 'node:crypto';
import { computeDomainDigest, Domain, Entity, rootDigest } from '../../libs/directory/src';
import type {
  ManifestResponse,
  PullResponse,
  PushResponse,
  SnapshotResponse,
} from '../../libs/sync-protocol/src';
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
  const manifest = async (site = siteA, detail = true) =>
    (await site.call<ManifestResponse>('POST', '/sync/v1/manifest', { detail })).body;
  const snapshot = async (site = siteA) =>
    (await site.call<SnapshotResponse>('POST', '/sync/v1/snapshot', {})).body;

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
      const scoped = snap.tree.filter((t) => t.scoped).map((t) => t.domain as Domain);
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
