import { makeSiteKeyPair, publicKeyFromPem } from '@dd/site-auth';
import { SitesUnreachableError } from '@dd/admin-api';
import { ProxiedRequest, ProxyForwarder } from './proxy.forwarder';
import { SiteHttp } from './site-http';
import { closedPort, FarSite, Responder, sendJson } from './testing';

const siteA = makeSiteKeyPair();
const keys = { 'site-a': publicKeyFromPem(siteA.publicKeyPem) };
const forwarder = new ProxyForwarder(
  new SiteHttp({ siteId: 'site-a', privateKey: siteA.privateKey }),
  'site-a',
);

const sites: FarSite[] = [];
async function site(id: string, respond: Responder): Promise<FarSite> {
  const far = await new FarSite(keys, respond, id).listen();
  sites.push(far);
  return far;
}
afterEach(async () => {
  for (const far of sites.splice(0)) await far.close();
});

/** A site that serves the domain: answers from its own data, as SPEC §5 describes. */
const serving =
  (id: string): Responder =>
  (call, res) =>
    sendJson(
      res,
      201,
      { received: call.raw },
      { 'x-served-by': id, 'x-sync-state': 'pending', 'x-request-id': 'req-1', 'set-cookie': 'no=1' },
    );
/** A site that does not serve the domain: checks the signature first (a replay gets 401), then 421. */
const misdirected: Responder = (call, res) =>
  call.verification.ok ? sendJson(res, 421, { code: 'misdirected' }) : sendJson(res, 401, {});

const create: ProxiedRequest = {
  method: 'POST',
  pathWithQuery: '/api/v1/domains/acme/entities?x=1',
  headers: {
    authorization: 'Bearer ops-token',
    'if-match': '"12"',
    'x-wait-for': 'mdc',
    'x-request-id': 'req-1',
    cookie: 'session=secret',
    host: 'site-a.example',
  },
  body: { kind: 'user', name: 'Jörg', attributes: { n: 1.5, list: [true, null] } },
};

async function down(id: string) {
  return { id, url: `http://127.0.0.1:${await closedPort()}` };
}

describe('ProxyForwarder (SPEC §9 proxying)', () => {
  it('returns the answer of the first target unchanged, with the headers that matter to the client', async () => {
    const b = await site('site-b', serving('site-b'));
    const answer = await forwarder.forward([b.target], create);
    expect(answer).toEqual({
      status: 201,
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'x-served-by': 'site-b',
        'x-sync-state': 'pending',
        'x-request-id': 'req-1',
      },
      body: { received: JSON.stringify(create.body) },
      servedBy: 'site-b',
    });
  });

  it('forwards the caller’s identity and conditions, marks the hop, and signs as itself for the target', async () => {
    const b = await site('site-b', serving('site-b'));
    await forwarder.forward([b.target], create);
    const call = b.calls[0];
    expect(call).toMatchObject({
      method: 'POST',
      path: '/api/v1/domains/acme/entities?x=1',
      raw: JSON.stringify(create.body),
      verification: { ok: true, siteId: 'site-a' },
    });
    expect(call.headers).toMatchObject({
      authorization: 'Bearer ops-token',
      'if-match': '"12"',
      'x-wait-for': 'mdc',
      'x-request-id': 'req-1',
      'x-proxied-by': 'site-a',
      'x-site-receiver': 'site-b',
    });
    expect(call.headers.cookie).toBeUndefined();
    expect(call.headers.host).not.toBe('site-a.example');
  });

  it('skips a dead peer and takes the next target’s answer', async () => {
    const master = await site('master', serving('master'));
    const answer = await forwarder.forward([await down('site-b'), master.target], create);
    expect(answer).toMatchObject({ status: 201, servedBy: 'master' });
  });

  it('skips a target that answers 421 (it does not serve the domain and will not proxy again)', async () => {
    const b = await site('site-b', misdirected);
    const c = await site('site-c', serving('site-c'));
    const answer = await forwarder.forward([b.target, c.target], {
      method: 'GET',
      pathWithQuery: '/api/v1/domains/acme',
      headers: {},
    });
    expect(answer).toMatchObject({ status: 201, servedBy: 'site-c' });
    expect(b.calls).toHaveLength(1);
  });

  it('returns an error answer of a serving site as it is, without trying further', async () => {
    const b = await site('site-b', (_call, res) => sendJson(res, 404, { code: 'entity_not_found' }));
    const c = await site('site-c', serving('site-c'));
    const answer = await forwarder.forward([b.target, c.target], {
      method: 'GET',
      pathWithQuery: '/api/v1/domains/acme/entities/user/x',
      headers: {},
    });
    expect(answer).toMatchObject({ status: 404, body: { code: 'entity_not_found' }, servedBy: 'site-b' });
    expect(c.calls).toHaveLength(0);
  });

  it('skips a target that answers 5xx (failing, or its store down) and takes the next target’s answer', async () => {
    const b = await site('site-b', (_call, res) => sendJson(res, 500, { code: 'internal_error' }));
    const c = await site('site-c', (_call, res) => sendJson(res, 503, { code: 'store_unavailable' }));
    const master = await site('master', serving('master'));
    const answer = await forwarder.forward([b.target, c.target, master.target], create);
    expect(answer).toMatchObject({ status: 201, servedBy: 'master' });
    expect([b.calls.length, c.calls.length]).toEqual([1, 1]);
  });

  it('returns a serving peer’s 503 queue_full as it is: its answer to the write, not a failure', async () => {
    const b = await site('site-b', (_call, res) => sendJson(res, 503, { code: 'queue_full' }));
    const master = await site('master', serving('master'));
    const answer = await forwarder.forward([b.target, master.target], create);
    expect(answer).toMatchObject({ status: 503, body: { code: 'queue_full' }, servedBy: 'site-b' });
    expect(master.calls).toHaveLength(0);
  });

  it('answers site_unreachable naming the sites tried, never another site’s 500 as its own', async () => {
    const b = await site('site-b', (_call, res) => sendJson(res, 500, { code: 'internal_error' }));
    const error = await forwarder.forward([b.target, await down('master')], create).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SitesUnreachableError);
    expect(error).toMatchObject({ tried: ['site-b', 'master'], mdcOnly: false });
  });

  it('names every site tried when none answers, never "not found"', async () => {
    const b = await site('site-b', misdirected);
    const targets = [await down('site-c'), b.target, await down('master')];
    const error = await forwarder.forward(targets, create).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SitesUnreachableError);
    expect(error).toMatchObject({ tried: ['site-c', 'site-b', 'master'], mdcOnly: false });
  });

  it('gives up on a target that does not answer within its timeout', async () => {
    const hung = await site('site-b', () => undefined);
    const master = await site('master', serving('master'));
    const quick = new ProxyForwarder(
      new SiteHttp({ siteId: 'site-a', privateKey: siteA.privateKey, timeoutMs: 200 }),
      'site-a',
    );
    const answer = await quick.forward([hung.target, master.target], create);
    expect(answer.servedBy).toBe('master');
  });

  it('joins a repeated header into one value', async () => {
    const b = await site('site-b', serving('site-b'));
    await forwarder.forward([b.target], {
      ...create,
      headers: { 'X-Request-Id': ['a', 'b'] },
    });
    expect(b.calls[0].headers['x-request-id']).toBe('a, b');
  });
});
