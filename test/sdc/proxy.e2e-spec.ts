import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { join } from 'node:path';
import { TestCluster } from '../harness/cluster';
import type { Reply } from '../harness/http';

/** SPEC §9 proxying between sites, §8 the master domain at a work site, §10 the request id across a hop. */
describe('SDC proxy: a request for a domain the site does not serve', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await TestCluster.start('sdc-proxy', {
      sites: ['master', 'site-a', 'site-b', 'site-c'],
      zones: [
        { domain: 'acme', sites: ['site-a'] },
        // config order: site-b before site-c, so site-a tries site-b first
        { domain: 'globex', sites: ['site-b', 'site-c'] },
      ],
      admins: [{ name: 'acme-ops', token: 'acme-token', scope: ['acme'] }],
      // info: the answering site logs each request with its id (SPEC §10)
      sdcEnv: { SYNC_INTERVAL_MS: '600000', LOG_LEVEL: 'info' },
    });
    for (const name of ['acme', 'globex', 'initech']) {
      expect((await cluster.admin('master').post('/domains', { name })).status).toBe(201);
    }
    expect(
      (
        await cluster
          .admin('master')
          .post('/domains/globex/entities', { kind: 'user', name: 'gina', attributes: { team: 'red' } })
      ).status,
    ).toBe(201);
    for (const site of cluster.workSites) {
      const { lastCycle } = await cluster.sync(site);
      expect({ site, lastCycle }).toMatchObject({ site, lastCycle: { ok: true } });
    }
  }, 90_000);
  afterAll(() => cluster?.stop());

  const at = (site: string) => cluster.admin(site);
  const servedBy = (reply: Reply) => reply.headers.get('x-served-by');
  const answer = (reply: Reply) => ({ status: reply.status, servedBy: servedBy(reply) });

  // STYLE: the OpenAPI document is committed; regenerate with UPDATE_OPENAPI=1 (see README) after an API change.
  it('serves exactly the committed OpenAPI document (docs/openapi.sdc.json)', async () => {
    const served: unknown = await (await fetch(`${cluster.url('site-a')}/docs-json`)).json();
    const committed = join(__dirname, '..', '..', 'docs', 'openapi.sdc.json');
    if (process.env.UPDATE_OPENAPI === '1') writeFileSync(committed, `${JSON.stringify(served, null, 2)}\n`);
    expect(served).toEqual(JSON.parse(readFileSync(committed, 'utf8')));
  });

  it('sends a request for a peer’s domain to the first serving peer, and returns its answer unchanged', async () => {
    const direct = await at('site-b').get('/domains/globex/entities/user/gina');
    expect(answer(direct)).toEqual({ status: 200, servedBy: 'site-b' });

    const proxied = await at('site-a').get('/domains/globex/entities/user/gina');
    expect(answer(proxied)).toEqual({ status: 200, servedBy: 'site-b' });
    expect(proxied.body).toEqual(direct.body);

    const notFound = await at('site-a').get('/domains/globex/entities/user/nobody');
    expect(answer(notFound)).toEqual({ status: 404, servedBy: 'site-b' });
    expect(notFound.body).toMatchObject({ code: 'entity_not_found' });
  });

  it('writes through the proxy: the object is created at the peer', async () => {
    const written = await at('site-a').post('/domains/globex/entities', {
      kind: 'user',
      name: 'gus',
      attributes: { via: 'site-a' },
    });
    expect(answer(written)).toEqual({ status: 201, servedBy: 'site-b' });
    expect(written.headers.get('x-sync-state')).toBe('pending');
    expect(written.body).toMatchObject({ kind: 'user', name: 'gus', attributes: { via: 'site-a' } });

    const atPeer = await at('site-b').get('/domains/globex/entities/user/gus');
    expect(answer(atPeer)).toEqual({ status: 200, servedBy: 'site-b' });
    expect(atPeer.body).toMatchObject({ id: written.body.id, attributes: { via: 'site-a' } });
  });

  it('sends a domain in no zone to the MDC, for reads and writes', async () => {
    const read = await at('site-a').get('/domains/initech');
    expect(answer(read)).toEqual({ status: 200, servedBy: 'master' });
    expect(read.body).toEqual((await at('master').get('/domains/initech')).body);

    const written = await at('site-a').post('/domains/initech/entities', { kind: 'number', name: '+100' });
    expect(answer(written)).toEqual({ status: 201, servedBy: 'master' });
    expect(written.headers.get('x-sync-state')).toBe('synced');
    const atMdc = await at('master').get('/domains/initech/entities/number/+100');
    expect(atMdc.body).toMatchObject({ id: written.body.id });

    const patched = await at('site-a').patch('/domains/initech', { settings: { region: 'us' } });
    expect(answer(patched)).toEqual({ status: 200, servedBy: 'master' });
    expect((await at('master').get('/domains/initech')).body.settings).toEqual({ region: 'us' });
  });

  /** Requests site-a proxied so far, by target and outcome, from its own /metrics. */
  async function proxiedFromSiteA(): Promise<number> {
    const text: string = (await fetch(`${cluster.url('site-a')}/metrics`).then((r) => r.text())) ?? '';
    return text
      .split('\n')
      .filter((line) => line.startsWith('dd_sdc_proxy_calls_total{'))
      .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
  }

  it('refuses at the forwarding site what it would refuse itself, with the same code, without forwarding it', async () => {
    const before = await proxiedFromSiteA();

    const outOfScope = await at('site-a').as('acme-token').get('/domains/globex');
    expect(answer(outOfScope)).toEqual({ status: 403, servedBy: 'site-a' });
    expect(outOfScope.body).toMatchObject({ code: 'forbidden' });

    const masterOnly = await at('site-a').as('acme-token').post('/domains/initech/entities', {
      kind: 'user',
      name: 'intruder',
    });
    expect(answer(masterOnly)).toEqual({ status: 403, servedBy: 'site-a' });

    const unknownToken = await at('site-a').as('no-such-token').get('/domains/globex');
    expect(answer(unknownToken)).toEqual({ status: 401, servedBy: 'site-a' });
    expect(unknownToken.body).toMatchObject({ code: 'unauthorized' });

    const noToken = await at('site-a').as(undefined).get('/domains/globex');
    expect(answer(noToken)).toEqual({ status: 401, servedBy: 'site-a' });

    expect(await proxiedFromSiteA()).toBe(before);
    expect((await at('master').get('/domains/initech/entities/user/intruder')).status).toBe(404);

    const inScope = await at('site-b').as('acme-token').get('/domains/acme');
    expect(answer(inScope)).toEqual({ status: 200, servedBy: 'site-a' });
    expect(inScope.body).toMatchObject({ name: 'acme' });
    expect(await proxiedFromSiteA()).toBe(before);
  });

  describe('at most one hop', () => {
    /** A request as site-a would proxy it to site-b: signed by site-a, marked x-proxied-by. */
    async function hopToSiteB(
      path: string,
      options: { signAs?: string; proxiedBy?: string; token?: string; signFor?: string } = {},
    ) {
      const headers: Record<string, string> = {
        authorization: `Bearer ${options.token ?? 'ops-token'}`,
        'x-proxied-by': options.proxiedBy ?? 'site-a',
        ...(options.signAs === undefined
          ? {}
          : cluster
              .signedCaller(options.signAs, 'site-b')
              .headersFor('GET', path, undefined, { receiver: options.signFor })),
      };
      return getOnce(`${cluster.url('site-b')}${path}`, headers);
    }

    it('answers a signed proxied request for a domain it serves from its own data', async () => {
      expect(await hopToSiteB('/api/v1/domains/globex', { signAs: 'site-a' })).toMatchObject({
        status: 200,
        servedBy: 'site-b',
        body: { name: 'globex' },
      });
    });

    it('answers 421 to a signed proxied request for a domain it does not serve, never proxying it again', async () => {
      for (const domain of ['acme', 'initech']) {
        expect(await hopToSiteB(`/api/v1/domains/${domain}`, { signAs: 'site-a' })).toMatchObject({
          status: 421,
          servedBy: 'site-b',
        });
      }
    });

    it('enforces the caller’s scope again at the site that answers a proxied request', async () => {
      expect(
        await hopToSiteB('/api/v1/domains/globex', { signAs: 'site-a', token: 'acme-token' }),
      ).toMatchObject({ status: 403, servedBy: 'site-b', body: { code: 'forbidden' } });
    });

    it('refuses an unsigned or forged x-proxied-by with 401', async () => {
      expect(await hopToSiteB('/api/v1/domains/globex')).toMatchObject({
        status: 401,
        body: { code: 'unauthorized' },
      });
      expect(await hopToSiteB('/api/v1/domains/acme')).toMatchObject({
        status: 401,
        body: { code: 'unauthorized' },
      });
      expect(
        await hopToSiteB('/api/v1/domains/globex', { signAs: 'site-a', proxiedBy: 'site-c' }),
      ).toMatchObject({ status: 401, body: { code: 'unauthorized' } });
    });

    it('refuses with 401 a hop signed for site-c: a call captured on its way to one site is good at no other', async () => {
      expect(
        await hopToSiteB('/api/v1/domains/globex', { signAs: 'site-a', signFor: 'site-c' }),
      ).toMatchObject({
        status: 401,
        body: { code: 'unauthorized', message: expect.stringMatching(/wrong_receiver/) },
      });
    });
  });

  describe('the request id (SPEC §10)', () => {
    /** The site's log lines that carry `id`, once some appear (up to 5 s). */
    async function loggedAt(site: string, id: string): Promise<string[]> {
      const lines = () =>
        cluster
          .process(site)
          .log.split('\n')
          .filter((line) => line.includes(id));
      await cluster.waitFor(() => lines().length > 0, 5000).catch(() => undefined);
      return lines();
    }

    it('answers a proxied request with the id the caller sent', async () => {
      const id = randomUUID();
      const proxied = await at('site-a').get('/domains/globex', { 'x-request-id': id });
      expect(answer(proxied)).toEqual({ status: 200, servedBy: 'site-b' });
      expect(proxied.headers.get('x-request-id')).toBe(id);
    });

    it('follows the request across the hop: the answering site logs it under the same id', async () => {
      const id = randomUUID();
      const proxied = await at('site-a').get('/domains/globex', { 'x-request-id': id });
      expect(answer(proxied)).toEqual({ status: 200, servedBy: 'site-b' });
      expect(await loggedAt('site-b', id)).not.toEqual([]);

      // Without one, site-a makes the id, and site-b logs that same id.
      const made = await at('site-a').get('/domains/globex');
      const madeId = made.headers.get('x-request-id');
      expect(madeId).toBeTruthy();
      expect(await loggedAt('site-b', madeId!)).not.toEqual([]);
    });

    it('logs one line per API request and none for /health, and names the site and the id on both', async () => {
      const healthId = randomUUID();
      const live = await fetch(`${cluster.url('site-a')}/health/live`, {
        headers: { 'x-request-id': healthId },
      });
      expect(live.status).toBe(200);
      expect(live.headers.get('x-served-by')).toBe('site-a');
      expect(live.headers.get('x-request-id')).toBe(healthId);

      const apiId = randomUUID();
      const proxied = await at('site-a').get('/domains/globex', { 'x-request-id': apiId });
      expect(proxied.headers.get('x-request-id')).toBe(apiId);
      const lines = await loggedAt('site-a', apiId);
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0])).toMatchObject({
        msg: 'request completed',
        method: 'GET',
        url: '/api/v1/domains/globex',
        statusCode: 200,
      });
      // logged in order: the API request's line is there, so the earlier /health one would be too
      expect(cluster.process('site-a').log).not.toContain(healthId);
    });
  });

  describe('the master domain at a work site', () => {
    it('reads it from the local copy and sends writes to the MDC', async () => {
      const read = await at('site-a').get('/domains/master');
      expect(answer(read)).toEqual({ status: 200, servedBy: 'site-a' });
      expect(read.body).toMatchObject({ name: 'master', parent: null });

      const patched = await at('site-a').patch('/domains/master', { settings: { motd: 'hello' } });
      expect(answer(patched)).toEqual({ status: 200, servedBy: 'master' });
      expect((await at('master').get('/domains/master')).body.settings).toMatchObject({ motd: 'hello' });

      await cluster.sync('site-a');
      const reread = await at('site-a').get('/domains/master');
      expect(answer(reread)).toEqual({ status: 200, servedBy: 'site-a' });
      expect(reread.body.settings).toMatchObject({ motd: 'hello' });
    });

    it('refuses a master-domain write with 503 mdc_unreachable while the MDC is cut off, and still reads it', async () => {
      cluster.cut('site-a');
      try {
        const refused = await at('site-a').patch('/domains/master', { settings: { motd: 'offline' } });
        expect(refused.status).toBe(503);
        expect(refused.body).toMatchObject({ code: 'mdc_unreachable' });

        const read = await at('site-a').get('/domains/master');
        expect(answer(read)).toEqual({ status: 200, servedBy: 'site-a' });
        expect(read.body.settings).toMatchObject({ motd: 'hello' });
      } finally {
        cluster.restore('site-a');
      }
      expect((await at('master').get('/domains/master')).body.settings).toMatchObject({ motd: 'hello' });
    });
  });

  describe('past a dead peer', () => {
    afterAll(async () => {
      cluster.restore('site-a');
      for (const site of ['site-b', 'site-c']) await cluster.restart(site);
    }, 60_000);

    it('is answered by the next serving peer, then by the MDC, and reports 502 naming the sites tried when none answers', async () => {
      const path = '/domains/globex/entities/user/gina';
      const mdcState = (await at('master').get(path)).body;

      await cluster.kill('site-b');
      const pastB = await at('site-a').get(path);
      expect(answer(pastB)).toEqual({ status: 200, servedBy: 'site-c' });
      expect(pastB.body).toEqual(mdcState);

      await cluster.kill('site-c');
      const pastC = await at('site-a').get(path);
      expect(answer(pastC)).toEqual({ status: 200, servedBy: 'master' });
      expect(pastC.body).toEqual(mdcState);

      cluster.cut('site-a');
      for (const unreachable of [path, '/domains/globex/entities/user/nobody']) {
        const none = await at('site-a').get(unreachable);
        expect(answer(none)).toEqual({ status: 502, servedBy: 'site-a' });
        expect(none.body).toMatchObject({ code: 'site_unreachable', tried: ['site-b', 'site-c', 'master'] });
      }
      const write = await at('site-a').post('/domains/globex/entities', { kind: 'user', name: 'lost' });
      expect(write.status).toBe(502);
      expect(write.body).toMatchObject({ code: 'site_unreachable', tried: ['site-b', 'site-c', 'master'] });
    });
  });
});

/**
 * One GET that reaches the wire exactly once. Not fetch: WHATWG fetch re-sends a request answered
 * 421 on a new connection, with the same signature nonce, so the site would see a replay.
 */
function getOnce(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; servedBy: string | undefined; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = httpGet(url, { headers, agent: false, timeout: 5000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode!,
          servedBy: res.headers['x-served-by'] as string | undefined,
          body: text ? JSON.parse(text) : undefined,
        }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
  });
}
