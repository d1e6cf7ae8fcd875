import { TestCluster } from '../harness/cluster';
import type { AdminClient } from '../harness/http';
import {
  expectApiError,
  forgedCursor,
  longestDomainUnder,
  nestedObjects,
  PROTO_KEY_JSON,
  PROTOTYPE_KEYS,
  rawHead,
  sendAsIs,
} from '../harness/hostile';
import { httpAsIs, rawHttp } from '../harness/raw-http';

/** The work sites' request timeout (REQUEST_TIMEOUT_MS), short so a test can wait it out. */
const REQUEST_TIMEOUT_MS = 3000;

/**
 * SPEC §3, §5, §9 — nothing gets in, nothing breaks, at a work site and through a proxy hop: site-a
 * serves acme and answers it from its cache; asked about globex (site-b's) it forwards. Whatever a
 * client sends, the answer is a spec-shaped 4xx from the site that refused it; what is accepted is
 * stored exactly as given all the way to DomainDB and back; the directory is unchanged by the rest.
 */
describe('SDC: hostile input, at the site and through a proxy hop', () => {
  let cluster: TestCluster;
  let atA: AdminClient;
  let atB: AdminClient;
  let portA: number;
  const auth = { authorization: 'Bearer ops-token' };

  beforeAll(async () => {
    cluster = await TestCluster.start('sdc-hostile', {
      zones: [
        { domain: 'acme', sites: ['site-a'] },
        { domain: 'globex', sites: ['site-b'] },
      ],
      admins: [
        { name: 'limited', token: 'limited-token', scope: '*', rateLimit: { max: 2, windowMs: 60_000 } },
      ],
      sdcEnv: { SYNC_INTERVAL_MS: '600000', REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS) },
    });
    for (const name of ['acme', 'globex']) {
      expect((await cluster.admin('master').post('/domains', { name, settings: { keep: 1 } })).status).toBe(
        201,
      );
    }
    for (const site of cluster.workSites)
      expect((await cluster.sync(site)).lastCycle).toMatchObject({ ok: true });
    atA = cluster.admin('site-a');
    atB = cluster.admin('site-b');
    portA = Number(new URL(cluster.url('site-a')).port);
    expect((await atA.post('/domains/acme/entities', { kind: 'user', name: 'alice' })).status).toBe(201);
    expect((await atB.post('/domains/globex/entities', { kind: 'user', name: 'gina' })).status).toBe(201);
  }, 90_000);
  afterAll(() => cluster?.stop());

  /** Each site's view of its own domain, through either site (one of them a proxy hop), and DomainDB's head. */
  async function clusterState() {
    const view = async (client: AdminClient, domain: string) => ({
      domain: (await client.get(`/domains/${domain}`)).body,
      entities: (await client.get(`/domains/${domain}/entities?limit=1000`)).body.items,
    });
    return {
      tree: (await atA.get('/domains?limit=1000')).body,
      acme: await view(atA, 'acme'),
      globex: await view(atB, 'globex'),
      globexViaA: await view(atA, 'globex'),
      mdcHead: (await cluster.admin('master').get('/audit?limit=1')).body.items[0]?.version,
    };
  }

  /** Runs the bad requests and checks nothing changed at either site or at the MDC (SPEC §12). */
  async function leavesDirectoryUnchanged(badRequests: () => Promise<void>) {
    for (const site of cluster.workSites) await cluster.sync(site);
    const before = await clusterState();
    await badRequests();
    for (const site of cluster.workSites) await cluster.sync(site);
    expect(await clusterState()).toEqual(before);
  }

  describe('values: refused alike here and at the site a request is forwarded to (400)', () => {
    it('refuses a control character or an unpaired surrogate in a kind or an entity name', async () => {
      await leavesDirectoryUnchanged(async () => {
        for (const bad of ['\u0000', '\u0007', '\u007f', '\ud800', '\udfff']) {
          for (const [client, domain, answering] of [
            [atA, 'acme', 'site-a'],
            [atA, 'globex', 'site-b'],
          ] as const) {
            const byName = await client.post(`/domains/${domain}/entities`, {
              kind: 'user',
              name: `bob${bad}`,
            });
            expectApiError(byName, 400, 'validation_failed', answering);
            const byKind = await client.post(`/domains/${domain}/entities`, {
              kind: `user${bad}`,
              name: 'bob',
            });
            expectApiError(byKind, 400, 'validation_failed', answering);
          }
          expectApiError(
            await atA.post('/domains', { name: `x${bad}.acme` }),
            400,
            'validation_failed',
            'site-a',
          );
        }
      });
    });

    it('refuses NUL, unpaired surrogates, __proto__ keys and over 64 levels in settings and attributes', async () => {
      // what the JSON parser refuses never leaves site-a; the rest is refused by the site that answers
      const bad: [string, 'parser' | 'rules'][] = [
        ['{"a":"\\u0000"}', 'rules'],
        ['{"\\u0000":1}', 'rules'],
        ['{"a":["\\ud800"]}', 'rules'],
        ['{"\\udc00":1}', 'rules'],
        ...PROTO_KEY_JSON.map((json): [string, 'parser'] => [json, 'parser']),
        [nestedObjects(64), 'parser'],
        [`{"a":${'['.repeat(10_000)}${']'.repeat(10_000)}}`, 'parser'],
      ];
      await leavesDirectoryUnchanged(async () => {
        for (const [value, refusedBy] of bad) {
          for (const [domain, answering] of [
            ['acme', 'site-a'],
            ['globex', 'site-b'],
          ]) {
            const servedBy = refusedBy === 'parser' ? 'site-a' : answering;
            const patch = await sendAsIs(atA, 'PATCH', `/domains/${domain}`, `{"settings":${value}}`);
            expectApiError(patch, 400, 'validation_failed', servedBy);
            const entity = `{"kind":"user","name":"bob","attributes":${value}}`;
            const create = await sendAsIs(atA, 'POST', `/domains/${domain}/entities`, entity);
            expectApiError(create, 400, 'validation_failed', servedBy);
          }
        }
      });
    });
  });

  describe('what is accepted is stored exactly as given, through the queue and DomainDB and back', () => {
    it.each(PROTOTYPE_KEYS)(
      'keeps a %s key at the site, through a proxy hop and after the resync',
      async (key) => {
        const value = { [key]: { x: 'yes', [key]: 1 } };
        const local = await atA.patch('/domains/acme', { settings: value });
        expect({ status: local.status, kept: local.body.settings[key] }).toEqual({
          status: 200,
          kept: value[key],
        });
        const proxied = await atA.post('/domains/globex/entities', {
          kind: 'user',
          name: `p-${key.toLowerCase()}`,
          attributes: value,
        });
        expect({ status: proxied.status, servedBy: proxied.headers.get('x-served-by') }).toEqual({
          status: 201,
          servedBy: 'site-b',
        });
        expect(proxied.body.attributes).toEqual(value);
        for (const site of cluster.workSites) await cluster.sync(site);
        const mdc = cluster.admin('master');
        expect((await mdc.get('/domains/acme')).body.settings[key]).toEqual(value[key]);
        expect(
          (await mdc.get(`/domains/globex/entities/user/p-${key.toLowerCase()}`)).body.attributes,
        ).toEqual(value);
        expect((await atA.get('/domains/acme')).body.settings).toMatchObject({ keep: 1, [key]: value[key] });
      },
    );
  });

  describe('every valid name is addressable, here and through a proxy hop', () => {
    it('reads, patches and deletes a domain of 253 characters, and an entity of 255 four-byte characters', async () => {
      const names = longestDomainUnder('acme');
      for (const name of names) expect((await atA.post('/domains', { name })).status).toBe(201);
      const longest = names[names.length - 1];
      const entity = `/domains/${longest}/entities/user/${encodeURIComponent('🙂'.repeat(255))}`;
      expect(
        (await atA.post(`/domains/${longest}/entities`, { kind: 'user', name: '🙂'.repeat(255) })).status,
      ).toBe(201);
      for (const [client, servedBy] of [
        [atA, 'site-a'],
        [atB, 'site-a'],
      ] as const) {
        const read = await client.get(`/domains/${longest}`);
        expect({ status: read.status, servedBy: read.headers.get('x-served-by') }).toEqual({
          status: 200,
          servedBy,
        });
        expect((await client.patch(`/domains/${longest}`, { settings: { via: servedBy } })).status).toBe(200);
        expect((await client.get(entity)).status).toBe(200);
        expect((await client.patch(entity, { attributes: { n: 1 } })).status).toBe(200);
      }
      expect((await atB.delete(entity)).status).toBe(204);
      expect((await atB.delete(`/domains/${longest}`)).status).toBe(204);
      // a domain site-a no longer holds is asked of the MDC, which has it until the push lands
      await cluster.waitFor(async () => (await atA.get(`/domains/${longest}`)).status === 404, 5000);
    });

    const dotted = [
      ['.', '%2E'],
      ['..', '%2E%2E'],
    ];

    it.each(dotted)(
      'reads, patches and deletes an entity named %s through %s at the site that serves it',
      async (name, enc) => {
        expect((await atA.post('/domains/globex/entities', { kind: 'user', name })).status).toBe(201);
        const path = `/api/v1/domains/globex/entities/user/${enc}`;
        const read = await httpAsIs(cluster.url('site-b'), 'GET', path, auth);
        expect({ status: read.status, name: read.body.name }).toEqual({ status: 200, name });
        const json = { ...auth, 'content-type': 'application/json' };
        const patched = await httpAsIs(
          cluster.url('site-b'),
          'PATCH',
          path,
          json,
          '{"attributes":{"dot":1}}',
        );
        expect(patched.body.attributes).toEqual({ dot: 1 });
        expect((await httpAsIs(cluster.url('site-b'), 'DELETE', path, auth)).status).toBe(204);
        expect((await atB.get('/domains/globex/entities/user/gina')).status).toBe(200);
      },
    );

    // SiteHttp sends the path as received: a WHATWG URL would drop the `%2E` segment (→ `…/user/`, 404).
    it.each(dotted)('reads an entity named %s through %s through a proxy hop', async (name, enc) => {
      expect((await atB.post('/domains/globex/entities', { kind: 'user', name })).status).toBe(201);
      const path = `/api/v1/domains/globex/entities/user/${enc}`;
      try {
        const viaA = await httpAsIs(cluster.url('site-a'), 'GET', path, auth);
        expect({ status: viaA.status, name: viaA.body.name, servedBy: viaA.headers['x-served-by'] }).toEqual({
          status: 200,
          name,
          servedBy: 'site-b',
        });
      } finally {
        await httpAsIs(cluster.url('site-b'), 'DELETE', path, auth);
      }
    });
  });

  describe('framework errors in the spec’s shape, from the site that got the request', () => {
    it('answers other body types, and a body route without a body, with 415, before any forwarding', async () => {
      await leavesDirectoryUnchanged(async () => {
        for (const domain of ['acme', 'globex']) {
          for (const type of ['text/plain', 'application/xml', 'application/x-www-form-urlencoded']) {
            const res = await sendAsIs(atA, 'POST', `/domains/${domain}/entities`, 'kind=user&name=x', type);
            expectApiError(res, 415, 'unsupported_media_type', 'site-a');
          }
          const bare = rawHead('POST', `/api/v1/domains/${domain}/entities`, auth);
          expectApiError(
            await rawHttp(portA, bare),
            415,
            'unsupported_media_type',
            domain === 'acme' ? 'site-a' : 'site-b',
          );
        }
      });
    });

    it('answers bad escapes, NUL and unpaired surrogates in paths, queries and cursors with 400 before any store sees them', async () => {
      await leavesDirectoryUnchanged(async () => {
        // refused by site-a before routing, or — a cursor, read by the handler — by the site that answers
        for (const [path, servedBy] of [
          ['/domains/%zz', 'site-a'],
          ['/domains/globex/entities/user/%E0%A4', 'site-a'],
          ['/domains?parent=%zz', 'site-a'],
          ['/domains?parent=%00', 'site-a'],
          ['/domains/globex/entities?kind=user%00', 'site-a'],
          ['/domains/glo%00bex', 'site-a'],
          ['/domains/globex/entities/user/gi%00na', 'site-a'],
          ['/domains/acme/entities/user/%ED%A0%80', 'site-a'],
          [`/domains/globex/entities?after=${forgedCursor(['user', 'a\u0000'])}`, 'site-b'],
          [`/domains/acme/entities?after=${forgedCursor(['user', '\ud800'])}`, 'site-a'],
          [`/domains?after=${forgedCursor(['\udfff'])}`, 'site-a'],
        ]) {
          const res = await atA.get(path);
          expect({
            path,
            status: res.status,
            code: res.body.code,
            servedBy: res.headers.get('x-served-by'),
          }).toEqual({
            path,
            status: 400,
            code: 'validation_failed',
            servedBy,
          });
        }
        expectApiError(
          await atA.delete('/domains/globex/entities/user/gi%00na'),
          400,
          'validation_failed',
          'site-a',
        );
      });
    });

    it('answers what Node’s parser refuses, an unknown route and a long parameter in the spec’s shape', async () => {
      await leavesDirectoryUnchanged(async () => {
        expectApiError(
          await rawHttp(portA, rawHead('FOO', '/api/v1/domains')),
          400,
          'validation_failed',
          'site-a',
        );
        const longUrl = rawHead('GET', `/api/v1/domains/${'g'.repeat(20_000)}`);
        expectApiError(await rawHttp(portA, longUrl), 431, 'validation_failed', 'site-a');
        const badLength = rawHead('POST', '/api/v1/domains/globex/entities', {
          ...auth,
          'content-type': 'application/json',
          'content-length': 'abc',
        });
        expectApiError(await rawHttp(portA, badLength), 400, 'validation_failed', 'site-a');
        expectApiError(await atA.get('/no-such-route'), 404, 'not_found', 'site-a');
        expectApiError(await atA.get(`/domains/${'g'.repeat(3061)}`), 414, 'validation_failed', 'site-a');
      });
    });

    it.each([2, 6])(
      'answers Node’s fetch posting %i MiB with 413 and its JSON body, for a local and a forwarded domain',
      async (mib) => {
        await leavesDirectoryUnchanged(async () => {
          for (const domain of ['acme', 'globex']) {
            const body = JSON.stringify({
              kind: 'user',
              name: 'big',
              attributes: { b: 'x'.repeat(mib * 1024 * 1024) },
            });
            expectApiError(
              await sendAsIs(atA, 'POST', `/domains/${domain}/entities`, body),
              413,
              'payload_too_large',
              'site-a',
            );
          }
        });
      },
    );

    it('gives a 401 the WWW-Authenticate: Bearer challenge, for a local and a forwarded domain', async () => {
      for (const domain of ['acme', 'globex']) {
        const res = await atA.as('wrong').get(`/domains/${domain}`);
        expectApiError(res, 401, 'unauthorized', 'site-a');
        expect(res.headers.get('www-authenticate')).toBe('Bearer');
      }
    });

    it('cuts off a body dripped a byte at a time with 408, after REQUEST_TIMEOUT_MS', async () => {
      const body = '{"kind":"user","name":"slowpoke"}';
      const head = rawHead('POST', '/api/v1/domains/globex/entities', {
        ...auth,
        'content-type': 'application/json',
        'content-length': String(body.length),
      });
      const res = await rawHttp(portA, head + body, { everyMs: 250, timeoutMs: REQUEST_TIMEOUT_MS + 5000 });
      expectApiError(res, 408, 'validation_failed', 'site-a');
      expect(res.elapsedMs).toBeLessThan(REQUEST_TIMEOUT_MS + 2000);
      expect((await atB.get('/domains/globex/entities/user/slowpoke')).status).toBe(404);
    });
  });

  it('limits requests per admin token at the site, answering 429 with Retry-After', async () => {
    const limited = atA.as('limited-token');
    expect((await limited.get('/domains/acme')).status).toBe(200);
    expect((await limited.get('/domains/globex')).status).toBe(200);
    const refused = await limited.get('/domains/globex');
    expectApiError(refused, 429, 'rate_limited', 'site-a');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await atA.get('/domains/globex')).status).toBe(200);
  });
});
