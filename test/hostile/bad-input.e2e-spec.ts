import { request as httpRequest } from 'node:http';
import fc from 'fast-check';
import { TestCluster } from '../harness/cluster';

/**
 * SPEC §12: a property-based bad-input suite over every endpoint, at the MDC, at an SDC for a domain
 * it serves, and at an SDC for a domain another site serves (through a proxy hop): every answer is
 * a 4xx with a spec `code` — never a 5xx, never a hang — and the directory is unchanged after.
 * Every generated request is bad by construction (one broken part in an otherwise good request).
 */
const SPEC_CODES = new Set([
  'validation_failed',
  'unauthorized',
  'forbidden',
  'not_found',
  'domain_not_found',
  'entity_not_found',
  'already_exists',
  'has_children',
  'version_conflict',
  'misdirected',
  'payload_too_large',
  'unsupported_media_type',
  'rate_limited',
]);

/** Characters no name or kind may carry (SPEC §3, §5: NUL, other controls, lone surrogates). */
const poison = fc.constantFrom('\u0000', '\u0001', '\u001f', '\u007f', '\ud800', '\udfff', '\ud83d');
/** Characters no JSON key or string value may carry (PostgreSQL's jsonb: NUL; UTF-8: lone surrogates). */
const poisonInJson = fc.constantFrom('\u0000', '\ud800', '\udfff', '\ud83d');
const word = fc.stringMatching(/^[a-z][a-z0-9]{0,8}$/);
/** A string with at least one poison character somewhere in it. */
const poisonedWith = (chars: fc.Arbitrary<string>) =>
  fc.tuple(fc.string({ maxLength: 8 }), chars, fc.string({ maxLength: 8 })).map((p) => p.join(''));
const poisoned = poisonedWith(poison);
/** A JSON object nested deeper than SPEC §5's 64 levels. */
const tooDeep = fc.integer({ min: 65, max: 3000 }).map((depth) => {
  let value: unknown = { leaf: true };
  for (let i = 0; i < depth; i++) value = { n: value };
  return value;
});
/** A JSON object that hides a poisoned key or value somewhere inside. */
const poisonedObject = fc
  .tuple(word, poisonedWith(poisonInJson), fc.boolean())
  .map(([key, bad, inKey]) => (inKey ? { [bad]: 1, ok: key } : { ok: key, nested: { deeper: [bad] } }));
const notAnObject = fc.oneof(
  fc.constant(null),
  fc.integer(),
  fc.string(),
  fc.array(fc.integer(), { maxLength: 3 }),
);

interface BadRequest {
  method: string;
  /** path under /api/v1, already percent-encoded where it carries a generated segment */
  path: string;
  /** a value to send as JSON, or raw text with its own content type */
  body?: { json: unknown } | { raw: string; contentType?: string };
  headers?: Record<string, string>;
  what: string;
}

/** Percent-encodes a path segment; a lone surrogate goes as the 3 bytes a careless encoder would send. */
function seg(text: string): string {
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (code >= 0xd800 && code <= 0xdfff) {
      const bytes = [0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f)];
      out += bytes.map((b) => `%${b.toString(16).toUpperCase()}`).join('');
    } else out += encodeURIComponent(ch);
  }
  return out;
}

/** Bad requests about `domain` (which exists, holds user/alice and is served where the target says). */
function badRequests(domain: string): fc.Arbitrary<BadRequest> {
  const entity = `/domains/${domain}/entities`;
  return fc.oneof(
    poisoned.map((bad) => ({
      method: 'POST',
      path: '/domains',
      body: { json: { name: `${bad}.${domain}` } },
      what: 'domain create, poisoned name',
    })),
    fc.tuple(poisoned, word).map(([kind, name]) => ({
      method: 'POST',
      path: entity,
      body: { json: { kind, name } },
      what: 'entity create, poisoned kind',
    })),
    fc.tuple(word, poisoned).map(([kind, name]) => ({
      method: 'POST',
      path: entity,
      body: { json: { kind, name } },
      what: 'entity create, poisoned name',
    })),
    fc.tuple(word, fc.oneof(poisonedObject, tooDeep, notAnObject)).map(([name, attributes]) => ({
      method: 'POST',
      path: entity,
      body: { json: { kind: 'user', name, attributes } },
      what: 'entity create, bad attributes',
    })),
    fc.oneof(poisonedObject, tooDeep, notAnObject).map((settings) => ({
      method: 'PATCH',
      path: `/domains/${domain}`,
      body: { json: { settings } },
      what: 'domain patch, bad settings',
    })),
    fc.oneof(poisonedObject, tooDeep, notAnObject).map((attributes) => ({
      method: 'PATCH',
      path: `${entity}/user/alice`,
      body: { json: { attributes } },
      what: 'entity patch, bad attributes',
    })),
    fc.tuple(word, fc.jsonValue()).map(([key, value]) => ({
      method: 'PATCH',
      path: `${entity}/user/alice`,
      body: { json: { attributes: {}, [`x${key}`]: value } },
      what: 'entity patch, unknown field',
    })),
    fc
      .tuple(
        fc.constantFrom(
          'text/plain',
          'application/xml',
          'multipart/form-data; boundary=x',
          'application/octet-stream',
        ),
        word,
      )
      .map(([contentType, name]) => ({
        method: 'POST',
        path: entity,
        body: { raw: JSON.stringify({ kind: 'user', name }), contentType },
        what: `entity create as ${contentType}`,
      })),
    fc.string({ maxLength: 40 }).map((text) => ({
      method: 'POST',
      path: entity,
      body: { raw: `{"kind":"user","name":${text}` },
      what: 'entity create, malformed JSON',
    })),
    fc.tuple(fc.constantFrom('GET', 'PATCH', 'DELETE'), poisoned).map(([method, bad]) => ({
      method,
      path: `${entity}/user/${seg(bad)}`,
      body: method === 'PATCH' ? { json: { attributes: {} } } : undefined,
      what: `${method} entity, poisoned name in the path`,
    })),
    fc.tuple(fc.constantFrom('GET', 'PATCH', 'DELETE'), poisoned).map(([method, bad]) => ({
      method,
      path: `/domains/${seg(`${bad}.${domain}`)}`,
      body: method === 'PATCH' ? { json: { settings: {} } } : undefined,
      what: `${method} domain, poisoned name in the path`,
    })),
    fc
      .oneof(
        fc.constantFrom('0', '-1', '1001', 'ten', '2.5').map((limit) => `limit=${limit}`),
        fc.string({ maxLength: 12 }).map((after) => `after=${seg(after)}x`),
        poisoned.map((kind) => `kind=${seg(kind)}`),
        poisoned.map((parent) => `parent=${seg(parent)}`),
      )
      .map((query) => ({
        method: 'GET',
        path: query.startsWith('parent=') ? `/domains?${query}` : `${entity}?${query}`,
        what: `list with a bad query (${query.split('=')[0]})`,
      })),
    fc.string({ minLength: 1, maxLength: 20 }).map((version) => ({
      method: 'DELETE',
      path: `${entity}/user/alice`,
      headers: { 'if-match': `"stale-${version.replace(/[^\x21-\x7e]/g, '')}"` },
      what: 'entity delete, stale If-Match',
    })),
    fc
      .tuple(
        fc.constantFrom(
          ['GET', '/sync/rejections?limit='],
          ['GET', '/audit?limit='],
          ['POST', '/sync/run?timeoutMs='],
        ),
        fc.constantFrom('0', '-5', 'ten', '1e9', '%zz', '%00'),
      )
      .map(([[method, path], value]) => ({
        method,
        path: `${path}${value}`,
        what: `${method} ${path.split('?')[0]} with a bad parameter`,
      })),
    fc.constantFrom('/cluster/status', '/sync/status', '/audit', '/domains').map((path) => ({
      method: 'GET',
      path,
      headers: { authorization: 'Bearer not-a-token' },
      what: `GET ${path} with an unknown token`,
    })),
    fc.constantFrom('POST', 'PATCH', 'DELETE').map((method) => ({
      method,
      path: `/domains/${domain}`,
      headers: { authorization: 'Bearer not-a-token' },
      body: method === 'DELETE' ? undefined : { json: { settings: {} } },
      what: `${method} with an unknown token`,
    })),
  );
}

/** One request with a deadline: a hang is a failure too. */
function send(baseUrl: string, bad: BadRequest): Promise<{ status: number; body: string }> {
  const url = new URL(`/api/v1${bad.path}`, baseUrl);
  let payload: Buffer | undefined;
  const headers: Record<string, string> = { authorization: 'Bearer ops-token', ...bad.headers };
  if (bad.body && 'json' in bad.body) {
    payload = Buffer.from(JSON.stringify(bad.body.json));
    headers['content-type'] = 'application/json';
  } else if (bad.body) {
    payload = Buffer.from(bad.body.raw);
    if (bad.body.contentType) headers['content-type'] = bad.body.contentType;
    else headers['content-type'] = 'application/json';
  }
  if (payload) headers['content-length'] = String(payload.length);
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: bad.method, headers, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within 10 s to ${bad.what}`)));
    req.on('error', reject);
    req.end(payload);
  });
}

describe('bad input at every site (SPEC §12)', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await TestCluster.start('bad-input', {
      zones: [
        { domain: 'acme', sites: ['site-a'] },
        { domain: 'globex', sites: ['site-b'] },
      ],
      sdcEnv: { SYNC_INTERVAL_MS: '600000' },
    });
    const mdc = cluster.admin('master');
    for (const name of ['acme', 'globex', 'initech']) {
      expect((await mdc.post('/domains', { name })).status).toBe(201);
      expect((await mdc.post(`/domains/${name}/entities`, { kind: 'user', name: 'alice' })).status).toBe(201);
    }
    for (const site of cluster.workSites)
      expect((await cluster.sync(site)).lastCycle).toMatchObject({ ok: true });
  }, 90_000);
  afterAll(() => cluster?.stop());

  /** What must not move: the MDC's head version, and nothing queued at any site. */
  async function fingerprint() {
    const head = (await cluster.admin('master').get('/sync/status')).body.head;
    const queues = await Promise.all(
      cluster.workSites.map(async (site) => (await cluster.status(site)).queue.length),
    );
    return { head, queues };
  }

  const targets = [
    { what: 'at the MDC', site: 'master', domain: 'initech' },
    { what: 'at an SDC, for a domain it serves', site: 'site-a', domain: 'acme' },
    { what: 'at an SDC, through a proxy hop to the serving peer', site: 'site-a', domain: 'globex' },
    { what: 'at an SDC, through a proxy hop to the MDC', site: 'site-b', domain: 'initech' },
  ];

  it.each(targets)(
    'answers every bad request $what with a 4xx and a spec code, changing nothing',
    async (t) => {
      const before = await fingerprint();
      const runs = Number(process.env.BAD_INPUT_RUNS ?? 300);
      let sent = 0;
      await fc.assert(
        fc.asyncProperty(badRequests(t.domain), async (bad) => {
          const answer = await send(cluster.url(t.site), bad);
          sent += 1;
          let code: unknown;
          try {
            code = JSON.parse(answer.body).code;
          } catch {
            code = undefined;
          }
          if (answer.status < 400 || answer.status >= 500 || !SPEC_CODES.has(String(code))) {
            throw new Error(
              `${bad.what}: ${bad.method} ${bad.path} → ${answer.status} ${answer.body.slice(0, 300)}`,
            );
          }
        }),
        { numRuns: runs, interruptAfterTimeLimit: 60_000 },
      );
      expect(sent).toBeGreaterThanOrEqual(runs);
      for (const site of cluster.workSites) await cluster.sync(site);
      expect(await fingerprint()).toEqual(before);
    },
    120_000,
  );
});
