import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { ErrorCode } from '../../libs/admin-api/src/errors';
import { ClusterFiles } from '../harness/cluster-files';
import { AdminClient, Reply } from '../harness/http';
import { TestMdc } from '../harness/mdc';

/** SPEC §5, §9, §10: the admin REST API and the operations endpoints as the MDC serves them. */
describe('MDC admin API', () => {
  let mdc: TestMdc;
  let ops: AdminClient;
  /** an admin whose scope is ['acme'] (SPEC §9) */
  let acmeAdmin: AdminClient;

  beforeAll(async () => {
    const files = await ClusterFiles.create({
      zones: [
        { domain: 'acme', sites: ['site-a'] },
        { domain: 'globex', sites: ['site-a', 'site-b'] },
      ],
      admins: [{ name: 'acme-ops', token: 'acme-token', scope: ['acme'] }],
    });
    mdc = await TestMdc.start('admin_api', files);
    ops = mdc.admin();
    acmeAdmin = mdc.admin('acme-token');
    for (const name of ['acme', 'sub.acme', 'globex', 'notacme']) {
      expect((await ops.post('/domains', { name })).status).toBe(201);
    }
  });
  afterAll(() => mdc?.stop());

  let n = 0;
  /** A first-level domain name no other test uses. */
  const uniqueName = (prefix = 'd') => `${prefix}${++n}-${randomUUID().slice(0, 8)}`;

  async function freshDomain(settings?: Record<string, unknown>): Promise<string> {
    const name = uniqueName();
    const res = await ops.post('/domains', settings === undefined ? { name } : { name, settings });
    expect(res.status).toBe(201);
    return name;
  }

  async function freshEntity(domain: string, kind = 'user', name = `u${++n}`, attributes = {}) {
    const res = await ops.post(`/domains/${domain}/entities`, { kind, name, attributes });
    expect(res.status).toBe(201);
    return res.body;
  }

  /** SPEC §5: every error is `{ statusCode, code, message }` with the status it names. */
  function expectError(res: Reply, status: number, code: ErrorCode): void {
    expect({ status: res.status, code: res.body?.code }).toEqual({ status, code });
    expect(res.body).toEqual(
      expect.objectContaining({ statusCode: status, code, message: expect.any(String) }),
    );
    expect(res.body.message.length).toBeGreaterThan(0);
  }

  /** Follows `next` until it is null; returns every page. */
  async function allPages(client: AdminClient, path: string, limit: number): Promise<Reply[]> {
    const pages: Reply[] = [];
    let after: string | null = null;
    do {
      const sep = path.includes('?') ? '&' : '?';
      const cursor: string = after === null ? '' : `&after=${encodeURIComponent(after)}`;
      const res = await client.get(`${path}${sep}limit=${limit}${cursor}`);
      expect(res.status).toBe(200);
      pages.push(res);
      after = res.body.next;
      expect(pages.length).toBeLessThan(50);
    } while (after !== null);
    return pages;
  }

  describe('GET /domains', () => {
    it('lists the whole tree with parent and servedBy taken from the zones', async () => {
      const res = await ops.get('/domains?limit=1000');
      expect(res.status).toBe(200);
      const byName = new Map(res.body.items.map((d: { name: string }) => [d.name, d]));
      expect(byName.get('master')).toEqual({ name: 'master', parent: null, servedBy: ['master'] });
      expect(byName.get('acme')).toEqual({ name: 'acme', parent: null, servedBy: ['site-a'] });
      expect(byName.get('sub.acme')).toEqual({ name: 'sub.acme', parent: 'acme', servedBy: ['site-a'] });
      expect(byName.get('globex')).toEqual({ name: 'globex', parent: null, servedBy: ['site-a', 'site-b'] });
      expect(byName.get('notacme')).toEqual({ name: 'notacme', parent: null, servedBy: ['master'] });
      expect(res.body.next).toBeNull();
    });

    it('lists the domains by name', async () => {
      const res = await ops.get('/domains?limit=1000');
      const names: string[] = res.body.items.map((d: { name: string }) => d.name);
      expect(names).toEqual([...names].sort());
    });

    it('lists only the children of ?parent=', async () => {
      const parent = await freshDomain();
      for (const label of ['b', 'a', 'c']) {
        expect((await ops.post('/domains', { name: `${label}.${parent}` })).status).toBe(201);
      }
      expect((await ops.post('/domains', { name: `deep.a.${parent}` })).status).toBe(201);
      const res = await ops.get(`/domains?parent=${parent}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        items: ['a', 'b', 'c'].map((label) => ({
          name: `${label}.${parent}`,
          parent,
          servedBy: ['master'],
        })),
        next: null,
      });
    });

    it('pages with limit and after, next null on the last page, nothing skipped or repeated', async () => {
      const parent = await freshDomain();
      const children = ['a-z', 'a0', 'aa', 'ab', 'b', 'z9'].map((label) => `${label}.${parent}`);
      for (const name of children) expect((await ops.post('/domains', { name })).status).toBe(201);
      const pages = await allPages(ops, `/domains?parent=${parent}`, 2);
      expect(pages.map((p) => p.body.items.length)).toEqual([2, 2, 2]);
      expect(pages.flatMap((p) => p.body.items.map((d: { name: string }) => d.name))).toEqual(
        [...children].sort(),
      );
      expect(pages[0].body.next).toEqual(expect.any(String));
      expect(pages[2].body.next).toBeNull();
    });

    it.each(['0', '1001', '-1', 'ten'])('refuses limit=%s with 400 validation_failed', async (limit) => {
      expectError(await ops.get(`/domains?limit=${limit}`), 400, 'validation_failed');
    });

    it('accepts limit=1000', async () => {
      expect((await ops.get('/domains?limit=1000')).status).toBe(200);
    });

    it('refuses an after that is not a cursor it gave out with 400 validation_failed', async () => {
      expectError(await ops.get('/domains?after=not-a-cursor'), 400, 'validation_failed');
    });
  });

  describe('POST /domains', () => {
    it('creates a domain: 201, synced, served by master, settings {}, version a string', async () => {
      const name = uniqueName();
      const res = await ops.post('/domains', { name });
      expect(res.status).toBe(201);
      expect(res.headers.get('x-sync-state')).toBe('synced');
      expect(res.headers.get('x-served-by')).toBe('master');
      expect(res.body).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        name,
        parent: null,
        settings: {},
        version: expect.stringMatching(/^\d+$/),
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
      });
      const read = await ops.get(`/domains/${name}`);
      expect(read.status).toBe(200);
      expect(read.body).toEqual(res.body);
    });

    it('keeps the settings given', async () => {
      const name = uniqueName();
      const settings = { tz: 'Europe/Paris', limits: { users: 10 } };
      const res = await ops.post('/domains', { name, settings });
      expect(res.body.settings).toEqual(settings);
      expect((await ops.get(`/domains/${name}`)).body.settings).toEqual(settings);
    });

    it('derives the parent from the name', async () => {
      const parent = await freshDomain();
      const res = await ops.post('/domains', { name: `eu.${parent}` });
      expect(res.status).toBe(201);
      expect(res.body.parent).toBe(parent);
    });

    it('accepts a parent that matches the name', async () => {
      const parent = await freshDomain();
      const res = await ops.post('/domains', { name: `eu.${parent}`, parent });
      expect(res.status).toBe(201);
      expect(res.body.parent).toBe(parent);
    });

    it('refuses a parent that does not match the name with 400 validation_failed', async () => {
      const parent = await freshDomain();
      const other = await freshDomain();
      expectError(
        await ops.post('/domains', { name: `eu.${parent}`, parent: other }),
        400,
        'validation_failed',
      );
      expectError(
        await ops.post('/domains', { name: uniqueName(), parent: other }),
        400,
        'validation_failed',
      );
      expect((await ops.get(`/domains/eu.${parent}`)).status).toBe(404);
    });

    it('refuses a child under a missing parent with 404 domain_not_found', async () => {
      expectError(
        await ops.post('/domains', { name: `eu.${uniqueName('missing')}` }),
        404,
        'domain_not_found',
      );
    });

    it('refuses a name that exists with 409 already_exists', async () => {
      const name = await freshDomain({ first: true });
      expectError(await ops.post('/domains', { name, settings: { first: false } }), 409, 'already_exists');
      expect((await ops.get(`/domains/${name}`)).body.settings).toEqual({ first: true });
    });

    it.each([
      ['uppercase', 'Acme-Upper'],
      ['an underscore', 'bad_name'],
      ['a leading hyphen', '-acme'],
      ['an empty label', 'a..b'],
      ['a label over 63 characters', 'x'.repeat(64)],
      ['over 253 characters', Array.from({ length: 5 }, () => 'x'.repeat(60)).join('.')],
      ['an empty name', ''],
    ])('refuses a name with %s with 400 validation_failed', async (_what, name) => {
      expectError(await ops.post('/domains', { name }), 400, 'validation_failed');
    });

    it('refuses a name that is not a string, or no name, with 400 validation_failed', async () => {
      expectError(await ops.post('/domains', { name: 42 }), 400, 'validation_failed');
      expectError(await ops.post('/domains', {}), 400, 'validation_failed');
    });

    it('refuses settings that are not an object with 400 validation_failed', async () => {
      expectError(
        await ops.post('/domains', { name: uniqueName(), settings: [1] }),
        400,
        'validation_failed',
      );
      expectError(
        await ops.post('/domains', { name: uniqueName(), settings: 'x' }),
        400,
        'validation_failed',
      );
    });

    it('refuses an unknown body field with 400 validation_failed and creates nothing', async () => {
      const name = uniqueName();
      expectError(await ops.post('/domains', { name, colour: 'blue' }), 400, 'validation_failed');
      expect((await ops.get(`/domains/${name}`)).status).toBe(404);
    });

    it('refuses a body that is not JSON with 400 validation_failed', async () => {
      expectError(await ops.post('/domains', '{"name": '), 400, 'validation_failed');
    });

    it('refuses a body over 1 MiB with 413 payload_too_large', async () => {
      const name = uniqueName();
      const res = await ops.post('/domains', { name, settings: { blob: 'x'.repeat(1024 * 1024) } });
      expectError(res, 413, 'payload_too_large');
      expect((await ops.get(`/domains/${name}`)).status).toBe(404);
    });
  });

  describe('GET /domains/{name}', () => {
    it('answers 404 domain_not_found for a domain that does not exist', async () => {
      expectError(await ops.get(`/domains/${uniqueName('nope')}`), 404, 'domain_not_found');
    });

    it('answers 404 domain_not_found for a name that is not valid', async () => {
      expectError(await ops.get('/domains/NOT_VALID'), 404, 'domain_not_found');
    });
  });

  describe('PATCH /domains/{name}', () => {
    it('applies settings as a JSON merge patch: null removes a key, objects merge, a new version', async () => {
      const name = await freshDomain({ a: 1, b: { c: 2, d: 3 }, keep: 'yes' });
      const before = await ops.get(`/domains/${name}`);
      const res = await ops.patch(`/domains/${name}`, {
        settings: { a: null, b: { d: null, e: 4 }, f: [5] },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-sync-state')).toBe('synced');
      expect(res.body.settings).toEqual({ b: { c: 2, e: 4 }, keep: 'yes', f: [5] });
      expect(res.body.version).toEqual(expect.any(String));
      expect(BigInt(res.body.version)).toBeGreaterThan(BigInt(before.body.version));
      expect((await ops.get(`/domains/${name}`)).body.settings).toEqual(res.body.settings);
    });

    it('refuses a stale If-Match with 409 version_conflict and changes nothing', async () => {
      const name = await freshDomain({ v: 1 });
      const stale = (await ops.get(`/domains/${name}`)).body.version;
      expect((await ops.patch(`/domains/${name}`, { settings: { v: 2 } })).status).toBe(200);
      expectError(
        await ops.patch(`/domains/${name}`, { settings: { v: 3 } }, { 'if-match': stale }),
        409,
        'version_conflict',
      );
      expect((await ops.get(`/domains/${name}`)).body.settings).toEqual({ v: 2 });
    });

    it('applies a PATCH whose If-Match is the current version', async () => {
      const name = await freshDomain({ v: 1 });
      const current = (await ops.patch(`/domains/${name}`, { settings: { v: 2 } })).body.version;
      const res = await ops.patch(`/domains/${name}`, { settings: { v: 3 } }, { 'if-match': current });
      expect(res.status).toBe(200);
      expect(res.body.settings).toEqual({ v: 3 });
    });

    it('refuses a PATCH without settings, or with settings not an object, with 400 validation_failed', async () => {
      const name = await freshDomain();
      expectError(await ops.patch(`/domains/${name}`, {}), 400, 'validation_failed');
      expectError(await ops.patch(`/domains/${name}`, { settings: 'x' }), 400, 'validation_failed');
    });

    it('answers 404 domain_not_found for a domain that does not exist', async () => {
      expectError(
        await ops.patch(`/domains/${uniqueName('nope')}`, { settings: {} }),
        404,
        'domain_not_found',
      );
    });
  });

  describe('DELETE /domains/{name}', () => {
    it('deletes a domain with 204; it is gone afterwards', async () => {
      const name = await freshDomain();
      const res = await ops.delete(`/domains/${name}`);
      expect(res.status).toBe(204);
      expect(res.body).toBe('');
      expectError(await ops.get(`/domains/${name}`), 404, 'domain_not_found');
    });

    it('refuses a domain with children and no recursive with 409 has_children', async () => {
      const name = await freshDomain();
      expect((await ops.post('/domains', { name: `child.${name}` })).status).toBe(201);
      expectError(await ops.delete(`/domains/${name}`), 409, 'has_children');
      expectError(await ops.delete(`/domains/${name}?recursive=false`), 409, 'has_children');
      expect((await ops.get(`/domains/${name}`)).status).toBe(200);
    });

    it('refuses a domain with entities and no recursive with 409 has_children', async () => {
      const name = await freshDomain();
      await freshEntity(name);
      expectError(await ops.delete(`/domains/${name}`), 409, 'has_children');
      expect((await ops.get(`/domains/${name}`)).status).toBe(200);
    });

    it('removes the whole subtree and its entities with recursive=true', async () => {
      const name = await freshDomain();
      expect((await ops.post('/domains', { name: `b.${name}` })).status).toBe(201);
      expect((await ops.post('/domains', { name: `c.b.${name}` })).status).toBe(201);
      const top = await freshEntity(name, 'user', 'top');
      const deep = await freshEntity(`c.b.${name}`, 'user', 'deep');
      expect((await ops.delete(`/domains/${name}?recursive=true`)).status).toBe(204);
      for (const d of [name, `b.${name}`, `c.b.${name}`]) {
        expectError(await ops.get(`/domains/${d}`), 404, 'domain_not_found');
      }
      expectError(await ops.get(`/domains/${name}/entities/user/${top.name}`), 404, 'domain_not_found');
      expectError(await ops.get(`/domains/c.b.${name}/entities/user/${deep.name}`), 404, 'domain_not_found');
      const tree = await ops.get('/domains?limit=1000');
      expect(tree.body.items.map((d: { name: string }) => d.name)).not.toContain(`c.b.${name}`);
      // the names are free again, with nothing left over from before
      expect((await ops.post('/domains', { name })).status).toBe(201);
      expect((await ops.get(`/domains/${name}/entities`)).body.items).toEqual([]);
    });

    it('refuses to delete the master domain with 403 forbidden', async () => {
      expectError(await ops.delete('/domains/master'), 403, 'forbidden');
      expectError(await ops.delete('/domains/master?recursive=true'), 403, 'forbidden');
      expect((await ops.get('/domains/master')).status).toBe(200);
    });

    it('refuses recursive=maybe with 400 validation_failed', async () => {
      const name = await freshDomain();
      expectError(await ops.delete(`/domains/${name}?recursive=maybe`), 400, 'validation_failed');
      expect((await ops.get(`/domains/${name}`)).status).toBe(200);
    });

    it('refuses a stale If-Match with 409 version_conflict and keeps the domain', async () => {
      const name = await freshDomain();
      const stale = (await ops.get(`/domains/${name}`)).body.version;
      expect((await ops.patch(`/domains/${name}`, { settings: { x: 1 } })).status).toBe(200);
      expectError(await ops.delete(`/domains/${name}`, { 'if-match': stale }), 409, 'version_conflict');
      expect((await ops.get(`/domains/${name}`)).status).toBe(200);
    });

    it('answers 404 domain_not_found for a domain that does not exist', async () => {
      expectError(await ops.delete(`/domains/${uniqueName('nope')}`), 404, 'domain_not_found');
    });
  });

  describe('entities', () => {
    it('creates an entity: 201, synced, attributes {} by default, version a string', async () => {
      const domain = await freshDomain();
      const res = await ops.post(`/domains/${domain}/entities`, { kind: 'user', name: 'alice' });
      expect(res.status).toBe(201);
      expect(res.headers.get('x-sync-state')).toBe('synced');
      expect(res.headers.get('x-served-by')).toBe('master');
      expect(res.body).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        domain,
        kind: 'user',
        name: 'alice',
        attributes: {},
        version: expect.stringMatching(/^\d+$/),
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
      });
      const read = await ops.get(`/domains/${domain}/entities/user/alice`);
      expect(read.status).toBe(200);
      expect(read.body).toEqual(res.body);
    });

    it('accepts a name with spaces and non-ASCII characters, and finds it by its encoded path', async () => {
      const domain = await freshDomain();
      const name = 'Zoë Müller +1 (HQ)';
      expect((await ops.post(`/domains/${domain}/entities`, { kind: 'user', name })).status).toBe(201);
      const res = await ops.get(`/domains/${domain}/entities/user/${encodeURIComponent(name)}`);
      expect(res.status).toBe(200);
      expect(res.body.name).toBe(name);
    });

    it('refuses a duplicate (kind, name) in a domain with 409 already_exists', async () => {
      const domain = await freshDomain();
      await freshEntity(domain, 'user', 'bob', { first: true });
      const res = await ops.post(`/domains/${domain}/entities`, {
        kind: 'user',
        name: 'bob',
        attributes: { first: false },
      });
      expectError(res, 409, 'already_exists');
      expect((await ops.get(`/domains/${domain}/entities/user/bob`)).body.attributes).toEqual({
        first: true,
      });
    });

    it('allows one name under two kinds', async () => {
      const domain = await freshDomain();
      await freshEntity(domain, 'user', 'same');
      expect((await ops.post(`/domains/${domain}/entities`, { kind: 'group', name: 'same' })).status).toBe(
        201,
      );
    });

    it.each([
      ['uppercase', 'User'],
      ['a leading digit', '1user'],
      ['a dot', 'us.er'],
      ['over 63 characters', 'k'.repeat(64)],
      ['empty', ''],
    ])('refuses a kind that is %s with 400 validation_failed', async (_what, kind) => {
      const domain = await freshDomain();
      expectError(
        await ops.post(`/domains/${domain}/entities`, { kind, name: 'x' }),
        400,
        'validation_failed',
      );
    });

    it.each([
      ['a control character', 'bad\u0001name'],
      ['a newline', 'bad\nname'],
      ['a slash', 'a/b'],
      ['over 255 characters', 'n'.repeat(256)],
      ['empty', ''],
    ])('refuses a name with %s with 400 validation_failed', async (_what, name) => {
      const domain = await freshDomain();
      expectError(
        await ops.post(`/domains/${domain}/entities`, { kind: 'user', name }),
        400,
        'validation_failed',
      );
    });

    it('accepts a name of exactly 255 characters', async () => {
      const domain = await freshDomain();
      const name = 'n'.repeat(255);
      expect((await ops.post(`/domains/${domain}/entities`, { kind: 'user', name })).status).toBe(201);
    });

    it('refuses attributes over 64 KiB with 400 validation_failed', async () => {
      const domain = await freshDomain();
      const attributes = { blob: 'x'.repeat(64 * 1024) };
      expectError(
        await ops.post(`/domains/${domain}/entities`, { kind: 'user', name: 'big', attributes }),
        400,
        'validation_failed',
      );
      expectError(await ops.get(`/domains/${domain}/entities/user/big`), 404, 'entity_not_found');
    });

    it('refuses attributes that are not an object, and unknown fields, with 400 validation_failed', async () => {
      const domain = await freshDomain();
      const post = (body: unknown) => ops.post(`/domains/${domain}/entities`, body);
      expectError(await post({ kind: 'user', name: 'x', attributes: 'x' }), 400, 'validation_failed');
      expectError(await post({ kind: 'user', name: 'x', attributes: [1] }), 400, 'validation_failed');
      expectError(await post({ kind: 'user', name: 'x', colour: 'blue' }), 400, 'validation_failed');
    });

    it('refuses an entity in a domain that does not exist with 404 domain_not_found', async () => {
      const res = await ops.post(`/domains/${uniqueName('nope')}/entities`, { kind: 'user', name: 'x' });
      expectError(res, 404, 'domain_not_found');
    });

    it('lists entities ordered by kind, then name', async () => {
      const domain = await freshDomain();
      for (const [kind, name] of [
        ['user', 'carol'],
        ['group', 'sales'],
        ['user', 'alice'],
        ['number', '+4420'],
        ['group', 'admins'],
        ['user', 'Bob'],
      ]) {
        await freshEntity(domain, kind, name);
      }
      const res = await ops.get(`/domains/${domain}/entities`);
      expect(res.status).toBe(200);
      expect(res.body.next).toBeNull();
      expect(res.body.items.map((e: { kind: string; name: string }) => `${e.kind}/${e.name}`)).toEqual([
        'group/admins',
        'group/sales',
        'number/+4420',
        'user/Bob',
        'user/alice',
        'user/carol',
      ]);
    });

    it('pages entities with limit and after, next null on the last page', async () => {
      const domain = await freshDomain();
      const keys: string[] = [];
      for (const kind of ['a-kind', 'akind', 'b']) {
        for (const name of ['x', 'x y', 'y']) {
          await freshEntity(domain, kind, name);
          keys.push(`${kind}/${name}`);
        }
      }
      const pages = await allPages(ops, `/domains/${domain}/entities`, 4);
      expect(pages.map((p) => p.body.items.length)).toEqual([4, 4, 1]);
      expect(pages[2].body.next).toBeNull();
      const listed = pages.flatMap((p) =>
        p.body.items.map((e: { kind: string; name: string }) => `${e.kind}/${e.name}`),
      );
      expect(listed).toEqual(keys);
    });

    it('lists only one kind with ?kind=, paging included', async () => {
      const domain = await freshDomain();
      for (const name of ['u1', 'u2', 'u3']) await freshEntity(domain, 'user', name);
      await freshEntity(domain, 'group', 'g1');
      await freshEntity(domain, 'userx', 'u0');
      const pages = await allPages(ops, `/domains/${domain}/entities?kind=user`, 2);
      expect(pages.flatMap((p) => p.body.items.map((e: { name: string }) => e.name))).toEqual([
        'u1',
        'u2',
        'u3',
      ]);
      expect(pages.flatMap((p) => p.body.items.map((e: { kind: string }) => e.kind))).toEqual([
        'user',
        'user',
        'user',
      ]);
    });

    it('refuses an entity list limit of 0 or 1001 with 400 validation_failed', async () => {
      const domain = await freshDomain();
      expectError(await ops.get(`/domains/${domain}/entities?limit=0`), 400, 'validation_failed');
      expectError(await ops.get(`/domains/${domain}/entities?limit=1001`), 400, 'validation_failed');
    });

    it('answers 404 domain_not_found for the entities of a domain that does not exist', async () => {
      expectError(await ops.get(`/domains/${uniqueName('nope')}/entities`), 404, 'domain_not_found');
    });

    it('answers 404 entity_not_found for an entity that does not exist', async () => {
      const domain = await freshDomain();
      expectError(await ops.get(`/domains/${domain}/entities/user/nobody`), 404, 'entity_not_found');
    });

    it('applies attributes as a JSON merge patch: null removes a key, a new version', async () => {
      const domain = await freshDomain();
      const e = await freshEntity(domain, 'user', 'pat', { a: 1, b: { c: 2, d: 3 }, keep: true });
      const res = await ops.patch(`/domains/${domain}/entities/user/pat`, {
        attributes: { a: null, b: { c: null, e: 5 }, f: 'new' },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-sync-state')).toBe('synced');
      expect(res.body.attributes).toEqual({ b: { d: 3, e: 5 }, keep: true, f: 'new' });
      expect(res.body.id).toBe(e.id);
      expect(BigInt(res.body.version)).toBeGreaterThan(BigInt(e.version));
      expect((await ops.get(`/domains/${domain}/entities/user/pat`)).body.attributes).toEqual(
        res.body.attributes,
      );
    });

    it('refuses an entity PATCH with a stale If-Match with 409 version_conflict', async () => {
      const domain = await freshDomain();
      const e = await freshEntity(domain, 'user', 'im', { v: 1 });
      const path = `/domains/${domain}/entities/user/im`;
      expect((await ops.patch(path, { attributes: { v: 2 } })).status).toBe(200);
      expectError(
        await ops.patch(path, { attributes: { v: 3 } }, { 'if-match': e.version }),
        409,
        'version_conflict',
      );
      expect((await ops.get(path)).body.attributes).toEqual({ v: 2 });
    });

    it('applies an entity PATCH whose If-Match is the current version', async () => {
      const domain = await freshDomain();
      const e = await freshEntity(domain, 'user', 'im', { v: 1 });
      const res = await ops.patch(
        `/domains/${domain}/entities/user/im`,
        { attributes: { v: 2 } },
        { 'if-match': e.version },
      );
      expect(res.status).toBe(200);
      expect(res.body.attributes).toEqual({ v: 2 });
    });

    it('answers an entity PATCH of an entity that does not exist with 404 entity_not_found', async () => {
      const domain = await freshDomain();
      expectError(
        await ops.patch(`/domains/${domain}/entities/user/nobody`, { attributes: {} }),
        404,
        'entity_not_found',
      );
    });

    it('deletes an entity with 204, then answers 404 entity_not_found', async () => {
      const domain = await freshDomain();
      await freshEntity(domain, 'user', 'gone');
      const path = `/domains/${domain}/entities/user/gone`;
      const res = await ops.delete(path);
      expect(res.status).toBe(204);
      expect(res.headers.get('x-sync-state')).toBe('synced');
      expectError(await ops.get(path), 404, 'entity_not_found');
      expectError(await ops.delete(path), 404, 'entity_not_found');
      expect((await ops.get(`/domains/${domain}/entities`)).body.items).toEqual([]);
    });

    it('refuses an entity DELETE with a stale If-Match with 409 version_conflict', async () => {
      const domain = await freshDomain();
      const e = await freshEntity(domain, 'user', 'kept');
      const path = `/domains/${domain}/entities/user/kept`;
      expect((await ops.patch(path, { attributes: { x: 1 } })).status).toBe(200);
      expectError(await ops.delete(path, { 'if-match': e.version }), 409, 'version_conflict');
      expect((await ops.get(path)).status).toBe(200);
    });

    it('lets an entity be created again after its delete', async () => {
      const domain = await freshDomain();
      const first = await freshEntity(domain, 'user', 'again', { n: 1 });
      expect((await ops.delete(`/domains/${domain}/entities/user/again`)).status).toBe(204);
      const second = await freshEntity(domain, 'user', 'again', { n: 2 });
      expect(second.id).not.toBe(first.id);
      expect((await ops.get(`/domains/${domain}/entities/user/again`)).body.attributes).toEqual({ n: 2 });
    });
  });

  describe('auth', () => {
    it('refuses a call without a token with 401 unauthorized', async () => {
      expectError(await ops.as(undefined).get('/domains'), 401, 'unauthorized');
      expectError(await ops.as(undefined).post('/domains', { name: uniqueName() }), 401, 'unauthorized');
    });

    it('refuses a wrong token with 401 unauthorized', async () => {
      expectError(await ops.as('wrong-token').get('/domains'), 401, 'unauthorized');
      expectError(await ops.as('').get('/domains'), 401, 'unauthorized');
    });

    it('refuses a token sent without the Bearer scheme with 401 unauthorized', async () => {
      const res = await ops.as(undefined).get('/domains', { authorization: 'ops-token' });
      expectError(res, 401, 'unauthorized');
    });

    it('refuses a write without a token before creating anything', async () => {
      const name = uniqueName();
      expectError(await ops.as(undefined).post('/domains', { name }), 401, 'unauthorized');
      expect((await ops.get(`/domains/${name}`)).status).toBe(404);
    });

    it('lets a scoped admin read and write its domain and the domain’s descendants', async () => {
      expect((await acmeAdmin.get('/domains/acme')).status).toBe(200);
      expect((await acmeAdmin.get('/domains/sub.acme')).status).toBe(200);
      const name = `${uniqueName()}.acme`;
      expect((await acmeAdmin.post('/domains', { name })).status).toBe(201);
      const entity = await acmeAdmin.post(`/domains/sub.acme/entities`, { kind: 'user', name: uniqueName() });
      expect(entity.status).toBe(201);
      expect((await acmeAdmin.get(`/domains/sub.acme/entities`)).status).toBe(200);
      expect((await acmeAdmin.patch(`/domains/${name}`, { settings: { by: 'acme-ops' } })).status).toBe(200);
      expect((await acmeAdmin.delete(`/domains/${name}`)).status).toBe(204);
    });

    it('refuses a scoped admin outside its scope with 403 forbidden', async () => {
      expectError(await acmeAdmin.get('/domains/globex'), 403, 'forbidden');
      expectError(await acmeAdmin.get('/domains/master'), 403, 'forbidden');
      expectError(await acmeAdmin.get('/domains/globex/entities'), 403, 'forbidden');
      expectError(await acmeAdmin.patch('/domains/globex', { settings: { x: 1 } }), 403, 'forbidden');
      expectError(await acmeAdmin.delete('/domains/globex'), 403, 'forbidden');
      expectError(
        await acmeAdmin.post('/domains/globex/entities', { kind: 'user', name: 'x' }),
        403,
        'forbidden',
      );
      expect((await ops.get('/domains/globex')).body.settings).toEqual({});
    });

    it('does not take a domain that merely ends in the scope’s name as inside it', async () => {
      expectError(await acmeAdmin.get('/domains/notacme'), 403, 'forbidden');
    });

    it('refuses a scoped admin creating a domain outside its scope with 403 forbidden', async () => {
      const name = uniqueName();
      expectError(await acmeAdmin.post('/domains', { name }), 403, 'forbidden');
      expect((await ops.get(`/domains/${name}`)).status).toBe(404);
    });

    it('lists only the scoped admin’s domains in GET /domains', async () => {
      const res = await acmeAdmin.get('/domains?limit=1000');
      expect(res.status).toBe(200);
      const names: string[] = res.body.items.map((d: { name: string }) => d.name);
      expect(names).toEqual(expect.arrayContaining(['acme', 'sub.acme']));
      expect(names.every((name) => name === 'acme' || name.endsWith('.acme'))).toBe(true);
      expect(names).not.toContain('notacme');
    });

    it('pages a scoped admin’s GET /domains without padding pages with other domains', async () => {
      const pages = await allPages(acmeAdmin, '/domains', 1);
      const names = pages.flatMap((p) => p.body.items.map((d: { name: string }) => d.name));
      expect(names.length).toBeGreaterThanOrEqual(2);
      expect(names.every((name) => name === 'acme' || name.endsWith('.acme'))).toBe(true);
      expect(new Set(names).size).toBe(names.length);
    });
  });

  describe('headers', () => {
    it('names the master in X-Served-By on reads, writes and errors', async () => {
      expect((await ops.get('/domains')).headers.get('x-served-by')).toBe('master');
      expect((await ops.get(`/domains/${uniqueName('nope')}`)).headers.get('x-served-by')).toBe('master');
      expect((await ops.as(undefined).get('/domains')).headers.get('x-served-by')).toBe('master');
    });

    it('gives every response an X-Request-Id, a new one per request', async () => {
      const a = (await ops.get('/domains')).headers.get('x-request-id');
      const b = (await ops.get('/domains')).headers.get('x-request-id');
      expect(a).toEqual(expect.any(String));
      expect(a!.length).toBeGreaterThan(0);
      expect(a).not.toBe(b);
    });

    it('sends back the request id the caller sent', async () => {
      const id = `req-${randomUUID()}`;
      expect((await ops.get('/domains', { 'x-request-id': id })).headers.get('x-request-id')).toBe(id);
      expect(
        (await ops.get(`/domains/${uniqueName('nope')}`, { 'x-request-id': id })).headers.get('x-request-id'),
      ).toBe(id);
    });
  });

  describe('audit, cluster status and sync status', () => {
    it('lists the applied changes of a domain newest first, with actor, site, version and op', async () => {
      const domain = await freshDomain();
      await freshEntity(domain, 'user', 'audited');
      expect(
        (await ops.patch(`/domains/${domain}/entities/user/audited`, { attributes: { x: 1 } })).status,
      ).toBe(200);
      const res = await ops.get(`/audit?domain=${domain}`);
      expect(res.status).toBe(200);
      const items = res.body.items;
      expect(items.map((i: { op: string }) => i.op)).toEqual([
        'entity.update',
        'entity.create',
        'domain.create',
      ]);
      for (const item of items) {
        expect(item).toEqual(
          expect.objectContaining({
            actor: 'ops',
            site: 'master',
            domain,
            version: expect.stringMatching(/^\d+$/),
            at: expect.any(String),
          }),
        );
      }
      const versions = items.map((i: { version: string }) => BigInt(i.version));
      expect(versions[0]).toBeGreaterThan(versions[1]);
      expect(versions[1]).toBeGreaterThan(versions[2]);
    });

    it('names the admin that made a change as its actor', async () => {
      const name = `${uniqueName()}.acme`;
      expect((await acmeAdmin.post('/domains', { name })).status).toBe(201);
      const res = await ops.get(`/audit?domain=${name}`);
      expect(res.body.items).toEqual([expect.objectContaining({ op: 'domain.create', actor: 'acme-ops' })]);
    });

    it('lists changes of every domain newest first without ?domain=, up to limit', async () => {
      const older = await freshDomain();
      const newer = await freshDomain();
      const res = await ops.get('/audit?limit=2');
      expect(res.status).toBe(200);
      expect(res.body.items.map((i: { domain: string }) => i.domain)).toEqual([newer, older]);
    });

    it('refuses an audit limit over 1000 with 400 validation_failed', async () => {
      expectError(await ops.get('/audit?limit=1001'), 400, 'validation_failed');
    });

    it('pages through the audit with limit and the next cursor: every change once, newest first', async () => {
      const domain = await freshDomain();
      for (let i = 0; i < 6; i++) await freshEntity(domain);
      const seen: string[] = [];
      let after = '';
      let pages = 0;
      do {
        const res = await ops.get(`/audit?domain=${domain}&limit=3${after && `&after=${after}`}`);
        expect(res.status).toBe(200);
        expect(res.body.items.length).toBeLessThanOrEqual(3);
        seen.push(...res.body.items.map((i: { version: string }) => i.version));
        after = res.body.next ?? '';
        pages++;
      } while (after);
      expect(pages).toBe(3);
      expect(seen).toHaveLength(7); // the domain and its six entities
      expect(new Set(seen).size).toBe(7);
      const versions = seen.map(BigInt);
      expect(versions).toEqual([...versions].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0)));
      const whole = await ops.get(`/audit?domain=${domain}`);
      expect(whole.body).toEqual({ items: expect.any(Array), next: null });
      expect(whole.body.items.map((i: { version: string }) => i.version)).toEqual(seen);
    });

    it('refuses an audit cursor it did not give out with 400 validation_failed', async () => {
      const foreign = Buffer.from(JSON.stringify(['acme', 'user'])).toString('base64url');
      const notANumber = Buffer.from(JSON.stringify(['12x'])).toString('base64url');
      for (const after of ['not-a-cursor', foreign, notANumber]) {
        expectError(await ops.get(`/audit?after=${after}`), 400, 'validation_failed');
      }
    });

    it('lists every configured site in /cluster/status', async () => {
      const res = await ops.get('/cluster/status');
      expect(res.status).toBe(200);
      expect(res.body.sites.map((s: { site: string }) => s.site)).toEqual(['master', 'site-a', 'site-b']);
      expect(res.body.sites.find((s: { site: string }) => s.site === 'master')).toEqual(
        expect.objectContaining({ role: 'master', url: mdc.url, stale: false }),
      );
    });

    it('calls a work site that never contacted the MDC stale, after 2 sync intervals + 5 s', async () => {
      const res = await ops.get('/cluster/status');
      expect(res.body.staleAfterMs).toBe(2 * 20_000 + 5000);
      expect(res.body.sites.find((s: { site: string }) => s.site === 'site-b')).toEqual(
        expect.objectContaining({ role: 'site', lastPushAt: null, lastResyncAt: null, stale: true }),
      );
    });

    it('answers /sync/status with role master', async () => {
      const res = await ops.get('/sync/status');
      expect(res.status).toBe(200);
      expect(res.body).toEqual(expect.objectContaining({ site: 'master', role: 'master' }));
    });

    it('keeps the whole audit and the cluster status to admins of scope *, and a domain audit to its scope', async () => {
      expectError(await acmeAdmin.get('/audit'), 403, 'forbidden');
      expectError(await acmeAdmin.get('/audit?domain=globex'), 403, 'forbidden');
      expectError(await acmeAdmin.get('/cluster/status'), 403, 'forbidden');
      expect((await acmeAdmin.get('/audit?domain=acme')).status).toBe(200);
    });

    it('refuses null settings or attributes with 400 validation_failed (SPEC §3: never null)', async () => {
      expectError(
        await ops.post('/domains', { name: uniqueName(), settings: null }),
        400,
        'validation_failed',
      );
      expectError(
        await ops.post('/domains/acme/entities', { kind: 'user', name: uniqueName(), attributes: null }),
        400,
        'validation_failed',
      );
    });

    it('requires a token for audit, cluster status and sync status', async () => {
      for (const path of ['/audit', '/cluster/status', '/sync/status']) {
        expectError(await ops.as(undefined).get(path), 401, 'unauthorized');
      }
    });
  });

  describe('operations endpoints (no auth)', () => {
    const root = (path: string, headers: Record<string, string> = {}) =>
      fetch(`${mdc.url}${path}`, { headers });

    it('answers /health/live and /health/ready with 200 without a token', async () => {
      expect((await root('/health/live')).status).toBe(200);
      expect((await root('/health/ready')).status).toBe(200);
    });

    it('names the master and the request id on /health and /metrics too', async () => {
      for (const path of ['/health/live', '/health/ready', '/metrics']) {
        const id = `req-${randomUUID()}`;
        const res = await root(path, { 'x-request-id': id });
        expect(res.status).toBe(200);
        expect(res.headers.get('x-served-by')).toBe('master');
        expect(res.headers.get('x-request-id')).toBe(id);
      }
    });

    it('serves Prometheus text on /metrics, counting applied changes', async () => {
      await freshDomain();
      const res = await root('/metrics');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/plain');
      const text = await res.text();
      expect(text).toContain('# TYPE dd_mdc_changes_applied_total counter');
      const applied = /^dd_mdc_changes_applied_total (\d+)/m.exec(text);
      expect(Number(applied?.[1])).toBeGreaterThan(0);
    });

    it('serves the OpenAPI UI on /docs', async () => {
      const res = await root('/docs');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/html');
      expect(await res.text()).toMatch(/swagger/i);
    });

    it('serves an OpenAPI document that lists the /api/v1/domains paths', async () => {
      const candidates = ['/docs-json', '/docs/json'];
      const answers = await Promise.all(candidates.map((path) => root(path)));
      const found = answers.find((res) => res.status === 200);
      expect(found).toBeDefined();
      const document = (await found!.json()) as { paths: Record<string, unknown> };
      expect(Object.keys(document.paths)).toEqual(
        expect.arrayContaining([
          '/api/v1/domains',
          '/api/v1/domains/{name}',
          '/api/v1/domains/{name}/entities',
          '/api/v1/domains/{name}/entities/{kind}/{entityName}',
        ]),
      );
    });

    // STYLE: the OpenAPI document is committed; regenerate with UPDATE_OPENAPI=1 npm test after an API change.
    it('serves exactly the committed OpenAPI document (docs/openapi.mdc.json)', async () => {
      const served = await (await root('/docs-json')).json();
      const committed = join(__dirname, '..', '..', 'docs', 'openapi.mdc.json');
      if (process.env.UPDATE_OPENAPI === '1')
        writeFileSync(committed, `${JSON.stringify(served, null, 2)}\n`);
      expect(served).toEqual(JSON.parse(readFileSync(committed, 'utf8')));
    });

    it('keeps the operations endpoints outside the base path', async () => {
      expect((await root('/api/v1/health/live')).status).toBe(404);
    });
  });

  it('answers an unknown route in the base path with the error shape', async () => {
    const res = await ops.get('/no-such-route');
    expect(res.status).toBe(404);
    expect(res.body).toEqual(
      expect.objectContaining({ statusCode: 404, code: expect.any(String), message: expect.any(String) }),
    );
  });
});
