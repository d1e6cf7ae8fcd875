import type { ErrorCode } from '../../libs/admin-api/src/errors';
import { waitFor } from '../harness/cluster';
import { ClusterFiles, TestAdmin } from '../harness/cluster-files';
import { AdminClient } from '../harness/http';
import { TestMdc } from '../harness/mdc';
import {
  expectApiError,
  forgedCursor,
  nestedObjects,
  PROTO_KEY_JSON,
  PROTOTYPE_KEYS,
  rawHead,
  sendAsIs,
} from '../harness/hostile';
import { httpAsIs, RawReply, rawHttp } from '../harness/raw-http';

/** `limited` has a request limit of its own (SPEC §5); `plain` has none. */
const ADMINS: TestAdmin[] = [
  { name: 'limited', token: 'limited-token', scope: '*', rateLimit: { max: 3, windowMs: 60_000 } },
  { name: 'plain', token: 'plain-token', scope: '*' },
];

/** This MDC's request timeout (REQUEST_TIMEOUT_MS), short so a test can wait it out. */
const REQUEST_TIMEOUT_MS = 3000;

/**
 * SPEC §3, §5 — nothing gets in, nothing breaks: whatever a client sends, the MDC answers with a
 * spec-shaped 4xx (never a 500, a reset or the framework's own body), stores what it accepts
 * exactly as given, and leaves the directory as it was after everything it refuses.
 */
describe('MDC: hostile input', () => {
  let mdc: TestMdc;
  let ops: AdminClient;
  let port: number;
  const auth = { authorization: 'Bearer ops-token' };
  const json = { ...auth, 'content-type': 'application/json' };

  beforeAll(async () => {
    const files = await ClusterFiles.create({
      zones: [{ domain: 'acme', sites: ['site-a'] }],
      admins: ADMINS,
    });
    mdc = await TestMdc.start('hostile_input', files, { REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS) });
    ops = mdc.admin();
    port = Number(new URL(mdc.url).port);
    expect((await ops.post('/domains', { name: 'acme', settings: { keep: 1 } })).status).toBe(201);
    expect((await ops.post('/domains/acme/entities', { kind: 'user', name: 'alice' })).status).toBe(201);
  });
  afterAll(() => mdc?.stop());

  /** SPEC §5: `{ statusCode, code, message }`, the status it names, and the site that answered. */
  /** SPEC §5: `{ statusCode, code, message }`, the status it names, answered by the MDC. */
  const expectError = (res: Parameters<typeof expectApiError>[0], status: number, code: ErrorCode) =>
    expectApiError(res, status, code, 'master');

  /** What an admin can see of the directory: every domain with its settings and entities, and the audit's head. */
  async function directoryState() {
    const domains = (await ops.get('/domains?limit=1000')).body.items as { name: string }[];
    const full = [];
    for (const { name } of domains) {
      const domain = (await ops.get(`/domains/${name}`)).body;
      const entities = (await ops.get(`/domains/${name}/entities?limit=1000`)).body.items;
      full.push({ domain, entities });
    }
    const audit = (await ops.get('/audit?limit=1')).body.items;
    return { full, head: audit[0]?.version };
  }

  /** Runs the bad requests and checks the directory is exactly as before them (SPEC §12). */
  async function leavesDirectoryUnchanged(badRequests: () => Promise<void>) {
    const before = await directoryState();
    await badRequests();
    expect(await directoryState()).toEqual(before);
  }

  const post = (path: string, body: string, contentType?: string) =>
    sendAsIs(ops, 'POST', path, body, contentType);

  describe('values are validated the same way before any store sees them (400 validation_failed)', () => {
    const CONTROLS = ['\u0000', '\u0001', '\u0009', '\u000a', '\u001f', '\u007f'];

    it('refuses a control character in a domain name, a kind or an entity name', async () => {
      await leavesDirectoryUnchanged(async () => {
        for (const c of CONTROLS) {
          expectError(await ops.post('/domains', { name: `x${c}y` }), 400, 'validation_failed');
          expectError(
            await ops.post('/domains/acme/entities', { kind: `user${c}`, name: 'bob' }),
            400,
            'validation_failed',
          );
          expectError(
            await ops.post('/domains/acme/entities', { kind: 'user', name: `bob${c}` }),
            400,
            'validation_failed',
          );
        }
      });
    });

    it('refuses unpaired surrogates in names, JSON keys and JSON string values', async () => {
      await leavesDirectoryUnchanged(async () => {
        for (const s of ['\\ud800', '\\udfff', '\\ude00\\ud83d']) {
          for (const body of [
            `{"kind":"user","name":"bob${s}"}`,
            `{"kind":"user","name":"bob","attributes":{"a":"${s}"}}`,
            `{"kind":"user","name":"bob","attributes":{"k${s}":1}}`,
          ]) {
            expectError(await post('/domains/acme/entities', body), 400, 'validation_failed');
          }
          expectError(
            await post('/domains', `{"name":"hooli","settings":{"a":["${s}"]}}`),
            400,
            'validation_failed',
          );
          const patch = await ops.request('PATCH', '/domains/acme', `{"settings":{"${s}":1}}`);
          expectError(patch, 400, 'validation_failed');
        }
      });
    });

    it('refuses NUL in any JSON key or string value of settings, attributes and patches', async () => {
      await leavesDirectoryUnchanged(async () => {
        const nul = '\\u0000';
        expectError(
          await post('/domains', `{"name":"hooli","settings":{"a":"${nul}"}}`),
          400,
          'validation_failed',
        );
        expectError(
          await post('/domains', `{"name":"hooli","settings":{"${nul}":1}}`),
          400,
          'validation_failed',
        );
        expectError(
          await post(
            '/domains/acme/entities',
            `{"kind":"user","name":"bob","attributes":{"a":{"b":"${nul}"}}}`,
          ),
          400,
          'validation_failed',
        );
        expectError(
          await ops.request('PATCH', '/domains/acme', `{"settings":{"x":"${nul}"}}`),
          400,
          'validation_failed',
        );
        const entityPatch = await ops.request(
          'PATCH',
          '/domains/acme/entities/user/alice',
          `{"attributes":{"${nul}":1}}`,
        );
        expectError(entityPatch, 400, 'validation_failed');
      });
    });

    it('refuses JSON nested deeper than 64 levels, 10000 deep included, and takes 64', async () => {
      await leavesDirectoryUnchanged(async () => {
        expectError(
          await post('/domains', `{"name":"deep","settings":${nestedObjects(64)}}`),
          400,
          'validation_failed',
        );
        expectError(
          await post('/domains', `{"name":"deep","settings":${'['.repeat(10_000)}${']'.repeat(10_000)}}`),
          400,
          'validation_failed',
        );
        expectError(
          await post(
            '/domains',
            `{"name":"deep","settings":{"a":${'['.repeat(10_000)}${']'.repeat(10_000)}}}`,
          ),
          400,
          'validation_failed',
        );
      });
      // the body itself is level 1, so settings may nest 63 levels inside it
      const ok = await post('/domains', `{"name":"deep63","settings":${nestedObjects(63)}}`);
      expect(ok.status).toBe(201);
    });
  });

  describe('what is accepted is stored exactly as given', () => {
    it.each(PROTOTYPE_KEYS)(
      'stores a %s key in settings and in attributes, created and patched',
      async (key) => {
        const settings = { [key]: { x: 'yes' } };
        const patched = await ops.patch('/domains/acme', { settings });
        expect(patched.status).toBe(200);
        expect(patched.body.settings[key]).toEqual({ x: 'yes' });
        expect((await ops.get('/domains/acme')).body.settings).toMatchObject({
          keep: 1,
          [key]: { x: 'yes' },
        });

        const name = `holder-${key.toLowerCase()}`;
        const created = await ops.post('/domains/acme/entities', {
          kind: 'user',
          name,
          attributes: { [key]: 1 },
        });
        expect(created.status).toBe(201);
        expect(created.body.attributes).toEqual({ [key]: 1 });
        const again = await ops.patch(`/domains/acme/entities/user/${name}`, {
          attributes: { [key]: { deep: { [key]: 2 } } },
        });
        expect(again.status).toBe(200);
        expect((await ops.get(`/domains/acme/entities/user/${name}`)).body.attributes).toEqual({
          [key]: { deep: { [key]: 2 } },
        });
        expect(({} as Record<string, unknown>).x).toBeUndefined();
      },
    );

    it('refuses a __proto__ key with 400, never dropping it or polluting anything', async () => {
      await leavesDirectoryUnchanged(async () => {
        for (const text of PROTO_KEY_JSON) {
          expectError(
            await ops.request('PATCH', '/domains/acme', `{"settings":${text}}`),
            400,
            'validation_failed',
          );
          expectError(
            await post('/domains/acme/entities', `{"kind":"user","name":"p","attributes":${text}}`),
            400,
            'validation_failed',
          );
        }
        expectError(
          await post('/domains', '{"name":"hooli","__proto__":{"admin":true}}'),
          400,
          'validation_failed',
        );
      });
    });
  });

  describe('every valid name is addressable (SPEC §3 sizes)', () => {
    it('reads, patches and deletes a domain of 253 characters', async () => {
      const [a, b, c, d] = ['a'.repeat(63), 'b'.repeat(63), 'c'.repeat(63), 'd'.repeat(61)];
      for (const name of [d, `${c}.${d}`, `${b}.${c}.${d}`])
        expect((await ops.post('/domains', { name })).status).toBe(201);
      const name = `${a}.${b}.${c}.${d}`;
      expect(name).toHaveLength(253);
      expect((await ops.post('/domains', { name })).status).toBe(201);
      expect((await ops.get(`/domains/${name}`)).body.name).toBe(name);
      expect((await ops.patch(`/domains/${name}`, { settings: { long: true } })).body.settings).toEqual({
        long: true,
      });
      expect((await ops.post(`/domains/${name}/entities`, { kind: 'user', name: 'u' })).status).toBe(201);
      expect((await ops.get(`/domains/${name}/entities/user/u`)).status).toBe(200);
      expect((await ops.delete(`/domains/${d}?recursive=true`)).status).toBe(204);
      expect((await ops.get(`/domains/${name}`)).status).toBe(404);
    });

    it.each([
      ['ASCII', 'n'.repeat(255)],
      ['two-byte', 'é'.repeat(255)],
      ['four-byte (the longest encoded path)', '🙂'.repeat(255)],
    ])('reads, patches and deletes an entity named with 255 %s characters', async (_what, name) => {
      const path = `/domains/acme/entities/user/${encodeURIComponent(name)}`;
      expect((await ops.post('/domains/acme/entities', { kind: 'user', name })).status).toBe(201);
      expect((await ops.get(path)).body.name).toBe(name);
      expect((await ops.patch(path, { attributes: { n: 1 } })).status).toBe(200);
      expect((await ops.delete(path)).status).toBe(204);
      expect((await ops.get(path)).status).toBe(404);
    });

    it('answers a path parameter longer than any name with 414 in the spec’s shape', async () => {
      expectError(await ops.get(`/domains/${'a'.repeat(3061)}`), 414, 'validation_failed');
    });

    it.each([
      ['.', '%2E'],
      ['..', '%2E%2E'],
    ])(
      'creates, reads, patches and deletes an entity named %s through its encoded URL (%s)',
      async (name, encoded) => {
        expect((await ops.post('/domains/acme/entities', { kind: 'user', name })).status).toBe(201);
        const path = `/api/v1/domains/acme/entities/user/${encoded}`;
        const read = await httpAsIs(mdc.url, 'GET', path, auth);
        expect({ status: read.status, name: read.body.name }).toEqual({ status: 200, name });
        expect(
          (await httpAsIs(mdc.url, 'PATCH', path, json, '{"attributes":{"dot":true}}')).body.attributes,
        ).toEqual({ dot: true });
        expect((await httpAsIs(mdc.url, 'DELETE', path, auth)).status).toBe(204);
        expect((await httpAsIs(mdc.url, 'GET', path, auth)).status).toBe(404);
        // the other names stay where they were
        expect((await ops.get('/domains/acme/entities/user/alice')).status).toBe(200);
      },
    );
  });

  describe('every framework error is in the spec’s shape, with a spec code', () => {
    it.each([
      ['application/xml', '<domain name="x"/>'],
      [
        'multipart/form-data; boundary=b',
        '--b\r\nContent-Disposition: form-data; name="name"\r\n\r\nx\r\n--b--',
      ],
      ['application/octet-stream', '{"name":"x"}'],
      ['text/plain', '{"name":"x"}'],
      ['application/x-www-form-urlencoded', 'name=x'],
    ])('answers a body of type %s with 415 unsupported_media_type', async (type, body) => {
      await leavesDirectoryUnchanged(async () => {
        expectError(await post('/domains', body, type), 415, 'unsupported_media_type');
      });
    });

    it('answers a body without a Content-Type, and a body route without a body, with 415', async () => {
      await leavesDirectoryUnchanged(async () => {
        const withBody =
          rawHead('POST', '/api/v1/domains', { ...auth, 'content-length': '12' }) + '{"name":"x"}';
        expectError(await rawHttp(port, withBody), 415, 'unsupported_media_type');
        expectError(
          await rawHttp(port, rawHead('POST', '/api/v1/domains', auth)),
          415,
          'unsupported_media_type',
        );
      });
    });

    it('answers an unknown route with 404 not_found', async () => {
      expectError(await ops.get('/no-such-route'), 404, 'not_found');
      expectError(await ops.post('/no-such-route', {}), 404, 'not_found');
      expectError(await rawHttp(port, rawHead('PROPFIND', '/api/v1/domains')), 404, 'not_found');
    });

    it('answers a bad % escape in the path or the query with 400 validation_failed', async () => {
      await leavesDirectoryUnchanged(async () => {
        expectError(await ops.get('/domains/%zz'), 400, 'validation_failed');
        expectError(await ops.get('/domains/acme/entities/user/%E0%A4'), 400, 'validation_failed');
        expectError(await ops.get('/domains?parent=%zz'), 400, 'validation_failed');
        expectError(await ops.request('DELETE', '/domains/ac%me'), 400, 'validation_failed');
      });
    });

    it('answers what Node’s HTTP parser refuses in the spec’s shape: unknown method, 20 KB URL, Content-Length: abc', async () => {
      await leavesDirectoryUnchanged(async () => {
        expectError(await rawHttp(port, rawHead('FOO', '/api/v1/domains')), 400, 'validation_failed');
        const longUrl = rawHead('GET', `/api/v1/domains/${'a'.repeat(20_000)}`);
        expectError(await rawHttp(port, longUrl), 431, 'validation_failed');
        const badLength = rawHead('POST', '/api/v1/domains', { ...json, 'content-length': 'abc' });
        expectError(await rawHttp(port, badLength + '{"name":"x"}'), 400, 'validation_failed');
      });
    });

    it('answers a NUL or an unpaired surrogate in a query or path parameter with 400 before any store sees it', async () => {
      await leavesDirectoryUnchanged(async () => {
        for (const path of [
          '/domains?parent=%00',
          '/domains?parent=a%01b',
          '/domains/acme/entities?kind=user%00',
          `/domains?after=${forgedCursor(['ac\u0000me'])}`,
          `/domains?after=${forgedCursor(['\ud800'])}`,
          `/domains/acme/entities?after=${forgedCursor(['user', 'a\u0000'])}`,
          `/domains/acme/entities?after=${forgedCursor(['user', '\udc00'])}`,
          '/domains/ac%00me',
          '/domains/acme/entities/user/al%00ice',
          '/domains/acme/entities/us%00er/alice',
          '/domains/acme/entities/user/%ED%A0%80',
          '/domains?parent=%ED%A0%80',
        ]) {
          const res = await ops.get(path);
          expect({ path, status: res.status, code: res.body.code }).toEqual({
            path,
            status: 400,
            code: 'validation_failed',
          });
        }
        expectError(
          await ops.request('PATCH', '/domains/acme/entities/user/al%00ice', { attributes: {} }),
          400,
          'validation_failed',
        );
        expectError(await ops.request('DELETE', '/domains/ac%00me'), 400, 'validation_failed');
      });
    });
  });

  describe('a client still sending a body over 1 MiB reads the 413', () => {
    it.each([2, 6])(
      'answers Node’s fetch posting %i MiB with 413 payload_too_large and its JSON body',
      async (mib) => {
        await leavesDirectoryUnchanged(async () => {
          const body = JSON.stringify({ name: 'big', settings: { blob: 'x'.repeat(mib * 1024 * 1024) } });
          const res = await post('/domains', body);
          expectError(res, 413, 'payload_too_large');
        });
      },
    );

    it('lets a client that sends its whole 2 MiB body before reading finish sending, then answers 413', async () => {
      const body = Buffer.alloc(2 * 1024 * 1024, 'x');
      const head = rawHead('POST', '/api/v1/domains', { ...json, 'content-length': String(body.length) });
      const res = await rawHttp(port, Buffer.concat([Buffer.from(head), body]), {
        everyMs: 10,
        chunkBytes: 128 * 1024,
        sendAll: true,
      });
      expect({ sendError: res.sendError, sentAll: res.sentAll }).toEqual({
        sendError: undefined,
        sentAll: true,
      });
      expectError(res, 413, 'payload_too_large');
    });
  });

  describe('authentication and the request timeout', () => {
    it('gives a 401 the WWW-Authenticate: Bearer challenge', async () => {
      for (const res of [await ops.as(undefined).get('/domains'), await ops.as('wrong').get('/domains')]) {
        expectError(res, 401, 'unauthorized');
        expect(res.headers.get('www-authenticate')).toBe('Bearer');
      }
    });

    it('cuts off a client that sends its headers and then drips its body, with 408 in the spec’s shape', async () => {
      await leavesDirectoryUnchanged(async () => {
        const body = '{"name":"slowpoke"}';
        const head = rawHead('POST', '/api/v1/domains', {
          ...json,
          'content-length': String(body.length + 100),
        });
        const res = await rawHttp(port, head + body + ' '.repeat(100), {
          everyMs: 250,
          timeoutMs: REQUEST_TIMEOUT_MS + 5000,
        });
        expectError(res, 408, 'validation_failed');
        expect(res.elapsedMs).toBeLessThan(REQUEST_TIMEOUT_MS + 2000);
      });
    });

    it('cuts off a client that drips its headers too', async () => {
      const slowHeaders = rawHead('GET', '/api/v1/domains', { 'x-slow': 'y'.repeat(100) });
      const res = await rawHttp(port, slowHeaders, { everyMs: 250, timeoutMs: REQUEST_TIMEOUT_MS + 5000 });
      expectError(res, 408, 'validation_failed');
    });
  });

  describe('per-token rate limits (SPEC §5)', () => {
    it('answers an admin past its limit with 429 rate_limited and Retry-After, counting per token, not per address', async () => {
      const limited = ops.as('limited-token');
      await leavesDirectoryUnchanged(async () => {
        for (let i = 0; i < 3; i++) expect((await limited.get('/domains/acme')).status).toBe(200);
        const refused = await limited.post('/domains', { name: 'too-many' });
        expectError(refused, 429, 'rate_limited');
        expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(60);
        // the same address, another token: not limited
        expect((await ops.as('plain-token').get('/domains/acme')).status).toBe(200);
      });
    });

    it('follows a config reload: a raised limit at once, and cluster.rateLimit for every token without its own', async () => {
      const limited = ops.as('limited-token');
      const plain = ops.as('plain-token');
      try {
        mdc.files.write({
          admins: [{ ...ADMINS[0], rateLimit: { max: 1000, windowMs: 60_000 } }, ADMINS[1]],
        });
        await waitFor(async () => (await limited.get('/domains/acme')).status === 200, 3000);
        mdc.files.write({ cluster: { rateLimit: { max: 2, windowMs: 60_000 } } });
        const refused = await waitFor(async () => {
          const res = await plain.get('/domains/acme');
          return res.status === 429 ? res : undefined;
        }, 3000);
        expectError(refused, 429, 'rate_limited');
        expect((await limited.get('/domains/acme')).status).toBe(200);
      } finally {
        mdc.files.write({ admins: ADMINS, cluster: {} });
      }
      await waitFor(async () => (await plain.get('/domains/acme')).status === 200, 3000);
    });
  });

  it('is still healthy after all of it, with the directory it started with plus what it accepted', async () => {
    expect((await fetch(`${mdc.url}/health/ready`)).status).toBe(200);
    expect((await ops.get('/domains/acme/entities/user/alice')).status).toBe(200);
    expect((await ops.get('/domains/acme')).body.settings.keep).toBe(1);
    const raw: RawReply = await httpAsIs(mdc.url, 'GET', '/api/v1/domains/acme', auth);
    expect(raw.status).toBe(200);
  });
});
