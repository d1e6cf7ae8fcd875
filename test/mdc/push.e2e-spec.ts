import { randomUUID } from 'node:crypto';
import type { Change } from '../../libs/directory/src';
import type { PushResponse, PushVerdict, QueuedChange } from '../../libs/sync-protocol/src';
import { ClusterFiles } from '../harness/cluster-files';
import { TestMdc } from '../harness/mdc';
import { SiteCaller } from '../harness/http';
import { changeLogRows } from '../harness/domaindb';

/**
 * SPEC §7 through the MDC's push endpoint, against a real PostgreSQL. Both sites serve `shared`, where
 * the conflict tests race; `acme` is site-a's alone, `umbrella` site-b's (SPEC §9 scope).
 */
describe('MDC push: conflict rules and exactly-once', () => {
  let mdc: TestMdc;
  let siteA: SiteCaller;
  let siteB: SiteCaller;
  const seqs = new Map<string, number>();
  const epochs = new Map<string, string>();

  beforeAll(async () => {
    const files = await ClusterFiles.create({
      zones: [
        { domain: 'shared', sites: ['site-a', 'site-b'] },
        { domain: 'acme', sites: ['site-a'] },
        { domain: 'umbrella', sites: ['site-b'] },
      ],
    });
    mdc = await TestMdc.start('push', files);
    siteA = mdc.site('site-a');
    siteB = mdc.site('site-b');
    for (const name of ['shared', 'acme', 'umbrella']) {
      expect((await mdc.admin().post('/domains', { name })).status).toBe(201);
    }
  });
  afterAll(() => mdc.stop());

  function epochOf(site: SiteCaller): string {
    if (!epochs.has(site.siteId)) epochs.set(site.siteId, randomUUID());
    return epochs.get(site.siteId)!;
  }

  /** Pushes changes as the site's next seqs, as its submit queue would. */
  async function push(site: SiteCaller, ...changes: Change[]): Promise<PushVerdict[]> {
    const queued: QueuedChange[] = changes.map((change) => {
      const seq = (seqs.get(site.siteId) ?? 0) + 1;
      seqs.set(site.siteId, seq);
      return { seq, change, actor: 'ops', at: new Date().toISOString() };
    });
    const res = await site.call<PushResponse>('POST', '/sync/v1/push', {
      epoch: epochOf(site),
      changes: queued,
    });
    expect(res.status).toBe(200);
    return res.body.verdicts;
  }

  const admin = () => mdc.admin();
  let n = 0;
  /** A fresh domain in the zone both sites serve, for one test, created at the MDC. */
  async function freshDomain(): Promise<string> {
    const name = `d${++n}-${randomUUID().slice(0, 6)}.shared`;
    expect((await admin().post('/domains', { name })).status).toBe(201);
    return name;
  }
  async function freshEntity(domain: string, attributes = {}): Promise<{ id: string; name: string }> {
    const res = await admin().post(`/domains/${domain}/entities`, {
      kind: 'user',
      name: `u${++n}`,
      attributes,
    });
    expect(res.status).toBe(201);
    return res.body;
  }
  const entityCreate = (domain: string, name: string, attributes = {}): Change => ({
    op: 'entity.create',
    id: randomUUID(),
    domain,
    kind: 'user',
    name,
    attributes,
  });
  const entityUpdate = (
    domain: string,
    e: { id: string; name: string },
    patch: Record<string, unknown>,
  ): Change => ({
    op: 'entity.update',
    id: e.id,
    domain,
    kind: 'user',
    name: e.name,
    patch: patch as never,
  });
  const entityDelete = (domain: string, e: { id: string; name: string }): Change => ({
    op: 'entity.delete',
    id: e.id,
    domain,
    kind: 'user',
    name: e.name,
  });

  describe.each([
    ['site-a first', () => [siteA, siteB] as const],
    ['site-b first', () => [siteB, siteA] as const],
  ])('%s', (_order, sites) => {
    it('lets the first create of a domain name to reach the MDC win; the later one gets already_exists', async () => {
      const [first, second] = sites();
      const name = `race-${randomUUID().slice(0, 8)}.shared`;
      const mk = (): Change => ({
        op: 'domain.create',
        id: randomUUID(),
        name,
        parent: 'shared',
        settings: {},
      });
      const [won] = await push(first, mk());
      const [lost] = await push(second, mk());
      expect(won).toMatchObject({ status: 'applied' });
      expect(lost).toMatchObject({ status: 'rejected', code: 'already_exists', winner: { name } });
    });

    it('lets the first create of an entity (domain, kind, name) win, keeping the loser out', async () => {
      const [first, second] = sites();
      const domain = await freshDomain();
      const [won] = await push(first, entityCreate(domain, 'alice', { from: first.siteId }));
      const [lost] = await push(second, entityCreate(domain, 'alice', { from: second.siteId }));
      expect(won.status).toBe('applied');
      expect(lost).toMatchObject({
        status: 'rejected',
        code: 'already_exists',
        winner: { attributes: { from: first.siteId } },
      });
      const stored = await admin().get(`/domains/${domain}/entities/user/alice`);
      expect(stored.body.attributes).toEqual({ from: first.siteId });
    });

    it('applies updates field by field: the last to reach the MDC wins per field, other fields both survive', async () => {
      const [first, second] = sites();
      const domain = await freshDomain();
      const e = await freshEntity(domain, { shared: 0 });
      await push(first, entityUpdate(domain, e, { shared: first.siteId, [`only-${first.siteId}`]: 1 }));
      await push(second, entityUpdate(domain, e, { shared: second.siteId, [`only-${second.siteId}`]: 2 }));
      const stored = await admin().get(`/domains/${domain}/entities/user/${e.name}`);
      expect(stored.body.attributes).toEqual({
        shared: second.siteId,
        [`only-${first.siteId}`]: 1,
        [`only-${second.siteId}`]: 2,
      });
    });

    it('refuses an update that reaches the MDC after the delete', async () => {
      const [first, second] = sites();
      const domain = await freshDomain();
      const e = await freshEntity(domain);
      const [del] = await push(first, entityDelete(domain, e));
      const [upd] = await push(second, entityUpdate(domain, e, { late: true }));
      expect(del.status).toBe('applied');
      expect(upd).toMatchObject({ status: 'rejected', code: 'entity_not_found' });
      expect((await admin().get(`/domains/${domain}/entities/user/${e.name}`)).status).toBe(404);
    });

    it('applies a delete that comes after an update', async () => {
      const [first, second] = sites();
      const domain = await freshDomain();
      const e = await freshEntity(domain);
      const [upd] = await push(first, entityUpdate(domain, e, { early: true }));
      const [del] = await push(second, entityDelete(domain, e));
      expect(upd.status).toBe('applied');
      expect(del.status).toBe('applied');
      expect((await admin().get(`/domains/${domain}/entities/user/${e.name}`)).status).toBe(404);
    });

    it('lets a delete of something already deleted succeed', async () => {
      const [first, second] = sites();
      const domain = await freshDomain();
      const e = await freshEntity(domain);
      const [a] = await push(first, entityDelete(domain, e));
      const [b] = await push(second, entityDelete(domain, e));
      expect([a.status, b.status]).toEqual(['applied', 'applied']);
    });
  });

  it('refuses an update queued for an entity whose create was refused, never touching the namesake', async () => {
    const domain = await freshDomain();
    const [won] = await push(siteA, entityCreate(domain, 'bob', { v: 'a' }));
    const losing = entityCreate(domain, 'bob', { v: 'b' });
    const verdicts = await push(
      siteB,
      losing,
      entityUpdate(domain, { id: losing.id, name: 'bob' }, { v: 'b2' }),
    );
    expect(won.status).toBe('applied');
    expect(verdicts.map((v) => v.status)).toEqual(['rejected', 'rejected']);
    expect(verdicts[1]).toMatchObject({ code: 'entity_not_found' });
    expect((await admin().get(`/domains/${domain}/entities/user/bob`)).body.attributes).toEqual({ v: 'a' });
  });

  it('does not let one refusal abort the rest of the batch', async () => {
    const domain = await freshDomain();
    const verdicts = await push(
      siteA,
      entityCreate(domain, 'x1'),
      entityCreate(domain, 'x1'),
      entityCreate(domain, 'x2'),
    );
    expect(verdicts.map((v) => v.status)).toEqual(['applied', 'rejected', 'applied']);
  });

  describe('exactly once', () => {
    const site = () => siteA;

    it('answers a batch re-sent after a crash with the first verdicts and applies it once', async () => {
      const domain = await freshDomain();
      const epoch = randomUUID();
      const batch: QueuedChange[] = [
        { seq: 1, change: entityCreate(domain, 'once'), actor: 'ops', at: new Date().toISOString() },
        { seq: 2, change: entityCreate(domain, 'once'), actor: 'ops', at: new Date().toISOString() },
      ];
      const first = await site().call<PushResponse>('POST', '/sync/v1/push', { epoch, changes: batch });
      const again = await site().call<PushResponse>('POST', '/sync/v1/push', { epoch, changes: batch });
      expect(first.body.verdicts.map((v) => v.status)).toEqual(['applied', 'rejected']);
      expect(again.body.verdicts.map((v) => [v.status, 'replayed' in v && v.replayed])).toEqual([
        ['applied', true],
        ['rejected', true],
      ]);
      expect(again.body.verdicts[0]).toMatchObject({
        version: (first.body.verdicts[0] as { version: string }).version,
      });
      const audit = await admin().get(`/audit?domain=${domain}&limit=1000`);
      const created = audit.body.items.filter((i: { op: string }) => i.op === 'entity.create');
      expect(created).toHaveLength(1);
      expect(await changeLogRows(mdc.db.url, domain, 'entity')).toBe(1);
    });

    it('applies a new epoch that starts again at seq 1, not taking it for duplicates', async () => {
      const domain = await freshDomain();
      const one = (epoch: string, name: string) =>
        site().call<PushResponse>('POST', '/sync/v1/push', {
          epoch,
          changes: [
            { seq: 1, change: entityCreate(domain, name), actor: 'ops', at: new Date().toISOString() },
          ],
        });
      const before = await one(randomUUID(), 'old-epoch');
      const after = await one(randomUUID(), 'new-epoch');
      expect(before.body.verdicts[0].status).toBe('applied');
      expect(after.body.verdicts[0]).toMatchObject({ status: 'applied', replayed: false });
      expect((await admin().get(`/domains/${domain}/entities/user/new-epoch`)).status).toBe(200);
    });

    it('refuses a seq that skips ahead as a gap and applies nothing after it', async () => {
      const domain = await freshDomain();
      const epoch = randomUUID();
      const at = new Date().toISOString();
      const res = await site().call<PushResponse>('POST', '/sync/v1/push', {
        epoch,
        changes: [
          { seq: 1, change: entityCreate(domain, 'g1'), actor: 'ops', at },
          { seq: 3, change: entityCreate(domain, 'g3'), actor: 'ops', at },
          { seq: 4, change: entityCreate(domain, 'g4'), actor: 'ops', at },
        ],
      });
      expect(res.body.verdicts).toEqual([
        expect.objectContaining({ seq: 1, status: 'applied' }),
        { seq: 3, status: 'gap', expected: 2 },
        { seq: 4, status: 'gap', expected: 2 },
      ]);
      expect(res.body.lastSeq).toBe(1);
      expect((await admin().get(`/domains/${domain}/entities/user/g3`)).status).toBe(404);
      expect((await admin().get(`/domains/${domain}/entities/user/g4`)).status).toBe(404);
    });
  });

  it('refuses a malformed push with validation_failed and applies nothing', async () => {
    const res = await siteA.call('POST', '/sync/v1/push', {
      epoch: randomUUID(),
      changes: [{ seq: 1, change: { op: 'nope' } }],
    });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('validation_failed');
  });

  describe('SPEC §9: a site can change only what it serves', () => {
    const forbidden = { status: 'rejected', code: 'forbidden', winner: null, replayed: false };

    it('refuses, holding only its own key, every change of the finding as forbidden and applies the allowed one after them', async () => {
      const master = (await admin().get('/domains/master')).body;
      const inUmbrella = (await admin().post('/domains', { name: 'x.umbrella' })).body;
      const finding: Change[] = [
        entityCreate('umbrella', 'planted'),
        {
          op: 'entity.create',
          id: randomUUID(),
          domain: 'master',
          kind: 'admin',
          name: 'mallory',
          attributes: {},
        },
        { op: 'domain.create', id: randomUUID(), name: 'newco', parent: null, settings: {} },
        { op: 'domain.update', id: master.id, name: 'master', patch: { owned: true } },
        { op: 'domain.delete', id: inUmbrella.id, name: 'x.umbrella', recursive: true },
        // its own zone's name on another domain's id: the id decides what would change
        { op: 'domain.update', id: master.id, name: 'acme', patch: { owned: true } },
      ];
      const allowed = entityCreate('acme', `mine-${randomUUID().slice(0, 6)}`);

      const verdicts = await push(siteA, ...finding, allowed);

      expect(verdicts.slice(0, finding.length)).toEqual(
        finding.map((_, i) => ({ ...forbidden, seq: verdicts[i].seq, message: expect.any(String) })),
      );
      expect(verdicts[finding.length]).toMatchObject({ status: 'applied', replayed: false });
      expect(verdicts[1]).toMatchObject({ message: 'the master domain "master" is changed only at the MDC' });
      expect(verdicts[2]).toMatchObject({
        message: 'site site-a does not serve domain "newco", so it may not change it',
      });

      expect((await admin().get('/domains/umbrella/entities/user/planted')).status).toBe(404);
      expect((await admin().get('/domains/master/entities/admin/mallory')).status).toBe(404);
      expect((await admin().get('/domains/newco')).status).toBe(404);
      expect((await admin().get('/domains/master')).body).toEqual(master);
      expect((await admin().get('/domains/x.umbrella')).status).toBe(200);
      const name = (allowed as Extract<Change, { op: 'entity.create' }>).name;
      expect((await admin().get(`/domains/acme/entities/user/${name}`)).status).toBe(200);
    });

    it('records a forbidden verdict in the exactly-once ledger: re-sent, the change gets it again', async () => {
      const epoch = randomUUID();
      const batch: QueuedChange[] = [
        { seq: 1, change: entityCreate('umbrella', 'again'), actor: 'ops', at: new Date().toISOString() },
        {
          seq: 2,
          change: entityCreate('acme', `again-${randomUUID().slice(0, 6)}`),
          actor: 'ops',
          at: new Date().toISOString(),
        },
      ];
      const first = await siteA.call<PushResponse>('POST', '/sync/v1/push', { epoch, changes: batch });
      const again = await siteA.call<PushResponse>('POST', '/sync/v1/push', { epoch, changes: batch });
      expect(first.body.lastSeq).toBe(2);
      expect(first.body.verdicts.map((v) => v.status)).toEqual(['rejected', 'applied']);
      expect(again.body.verdicts).toEqual(first.body.verdicts.map((v) => ({ ...v, replayed: true })));
    });

    it('lets the site that serves the zone make the same change', async () => {
      const [verdict] = await push(siteB, entityCreate('umbrella', `theirs-${randomUUID().slice(0, 6)}`));
      expect(verdict).toMatchObject({ status: 'applied' });
    });
  });

  describe('what PostgreSQL refuses in a change is that change’s verdict, never a 500', () => {
    it('answers a change holding a NUL byte rejected and applies the valid change after it', async () => {
      const name = `after-nul-${randomUUID().slice(0, 6)}`;
      const res = await siteA.call<PushResponse>('POST', '/sync/v1/push', {
        epoch: randomUUID(),
        changes: [
          // JSON.stringify sends "a\u0000b": the MDC parses a real NUL into the value
          {
            seq: 1,
            change: entityCreate('acme', 'nul-value', { note: 'a\u0000b' }),
            actor: 'ops',
            at: new Date().toISOString(),
          },
          { seq: 2, change: entityCreate('acme', name), actor: 'ops', at: new Date().toISOString() },
        ],
      });
      expect(res.status).toBe(200);
      expect(res.body.lastSeq).toBe(2);
      expect(res.body.verdicts).toEqual([
        {
          seq: 1,
          status: 'rejected',
          code: 'validation_failed',
          message: expect.any(String),
          winner: null,
          replayed: false,
        },
        { seq: 2, status: 'applied', version: expect.any(String), replayed: false },
      ]);
      expect((await admin().get('/domains/acme/entities/user/nul-value')).status).toBe(404);
      expect((await admin().get(`/domains/acme/entities/user/${name}`)).status).toBe(200);
    });

    it('answers a NUL in a key and a lone surrogate the same way, each on its own', async () => {
      const name = `after-bad-${randomUUID().slice(0, 6)}`;
      const at = new Date().toISOString();
      const res = await siteA.call<PushResponse>('POST', '/sync/v1/push', {
        epoch: randomUUID(),
        changes: [
          { seq: 1, change: entityCreate('acme', 'nul-key', { ['k\u0000']: 1 }), actor: 'ops', at },
          { seq: 2, change: entityCreate('acme', name), actor: 'ops', at },
          { seq: 3, change: entityCreate('acme', 'surrogate', { note: '\ud800' }), actor: 'ops', at },
        ],
      });
      expect(res.status).toBe(200);
      expect(res.body.verdicts.map((v) => [v.seq, v.status])).toEqual([
        [1, 'rejected'],
        [2, 'applied'],
        [3, 'rejected'],
      ]);
      expect(res.body.verdicts[2]).toMatchObject({ code: 'validation_failed' });
    });
  });
});
