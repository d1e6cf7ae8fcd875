import { makeSiteKeyPair, publicKeyFromPem } from '@dd/site-auth';
import { SiteUnreachableError } from './errors';
import { SiteHttp } from './site-http';
import { closedPort, FarSite, sendJson } from './testing';

const siteA = makeSiteKeyPair();
const keys = { 'site-a': publicKeyFromPem(siteA.publicKeyPem) };

describe('SiteHttp (SPEC §9: signed site-to-site calls)', () => {
  const http = new SiteHttp({ siteId: 'site-a', privateKey: siteA.privateKey, timeoutMs: 300 });
  const far = new FarSite(keys, (call, res) => {
    if (call.path.startsWith('/status/')) return sendJson(res, Number(call.path.slice(8)), { code: 'x' });
    if (call.path === '/text') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      return res.end('plain words');
    }
    if (call.path === '/hang') return; // never answers
    sendJson(res, 200, { echo: call.raw });
  });
  beforeAll(() => far.listen());
  afterAll(async () => {
    http.close();
    await far.close();
  });

  it('signs a POST over the exact JSON bytes it sends', async () => {
    const body = { epoch: 'e-1', changes: [{ seq: 1, name: 'Jörg' }] };
    const answer = await http.request(far.target, 'POST', '/sync/v1/push', body);
    const call = far.calls.at(-1)!;
    expect(call.verification).toEqual({ ok: true, siteId: 'site-a' });
    expect(call.raw).toBe(JSON.stringify(body));
    expect(call.headers['content-type']).toBe('application/json');
    expect(answer).toMatchObject({ status: 200, body: { echo: JSON.stringify(body) } });
  });

  it('signs a GET with a query and a path that fetch percent-encodes on the wire', async () => {
    await http.request(far.target, 'GET', '/api/v1/domains/acme/entities/user/Jörg Smith?limit=2');
    const call = far.calls.at(-1)!;
    expect(call.path).toBe('/api/v1/domains/acme/entities/user/J%C3%B6rg%20Smith?limit=2');
    expect(call.verification).toEqual({ ok: true, siteId: 'site-a' });
    expect(call.raw).toBe('');
  });

  it('sends PATCH in upper case and passes extra headers along', async () => {
    await http.request(far.target, 'patch', '/x', { settings: {} }, { authorization: 'Bearer t' });
    const call = far.calls.at(-1)!;
    expect(call.method).toBe('PATCH');
    expect(call.headers.authorization).toBe('Bearer t');
    expect(call.verification.ok).toBe(true);
  });

  it('sends a call answered 421 exactly once (fetch would re-send it, and the copy is a replay)', async () => {
    await expect(http.request(far.target, 'GET', '/status/421')).resolves.toMatchObject({ status: 421 });
    expect(far.calls.filter((call) => call.path === '/status/421')).toHaveLength(1);
  });

  it('returns a 4xx or 5xx answer instead of throwing', async () => {
    await expect(http.request(far.target, 'GET', '/status/409')).resolves.toMatchObject({
      status: 409,
      body: { code: 'x' },
      text: '{"code":"x"}',
    });
    await expect(http.request(far.target, 'GET', '/status/503')).resolves.toMatchObject({ status: 503 });
  });

  it('keeps a body that is not JSON as text', async () => {
    await expect(http.request(far.target, 'GET', '/text')).resolves.toMatchObject({ body: 'plain words' });
  });

  it('signs each call for the site it is sent to, so another site refuses it', async () => {
    await http.request({ id: 'site-c', url: far.url }, 'GET', '/x');
    expect(far.calls.at(-1)!.headers['x-site-receiver']).toBe('site-c');
    expect(far.calls.at(-1)!.verification).toEqual({ ok: false, reason: 'wrong_receiver' });
  });

  it('lets the far side refuse a call signed with a key it does not know', async () => {
    const stranger = new SiteHttp({ siteId: 'site-a', privateKey: makeSiteKeyPair().privateKey });
    await stranger.request(far.target, 'GET', '/x');
    expect(far.calls.at(-1)!.verification).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('throws SiteUnreachableError with the url and the cause when nothing listens', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const error = await http.request({ id: 'mdc', url }, 'GET', '/x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SiteUnreachableError);
    expect(error).toMatchObject({ url: `${url}/x`, cause: { code: 'ECONNREFUSED' } });
    expect((error as Error).message).toMatch(/ECONNREFUSED/);
  });

  it('sends consecutive calls to a site over one kept-alive connection', async () => {
    const connections = far.connectionCount;
    for (let i = 0; i < 3; i++) await http.request(far.target, 'GET', '/x');
    await http.request(far.target, 'POST', '/sync/v1/push', { changes: [] });
    expect(far.connectionCount - connections).toBeLessThanOrEqual(1);
  });

  it('throws SiteUnreachableError when the site does not answer in time', async () => {
    const started = Date.now();
    await expect(http.request(far.target, 'GET', '/hang')).rejects.toBeInstanceOf(SiteUnreachableError);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
