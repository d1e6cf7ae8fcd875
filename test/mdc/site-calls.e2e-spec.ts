import { generateKeyPairSync, randomUUID } from 'node:crypto';
import type { PushResponse } from '../../libs/sync-protocol/src';
import { SiteCaller } from '../harness/http';
import { TestMdc } from '../harness/mdc';

/** SPEC §9: site-to-site calls are signed; the MDC refuses anything else with 401. */
describe('MDC site-call signatures', () => {
  let mdc: TestMdc;
  let siteA: SiteCaller;
  const pull = { cursor: '0' };

  beforeAll(async () => {
    mdc = await TestMdc.start('sitecalls');
    siteA = mdc.site('site-a');
  });
  afterAll(() => mdc.stop());

  it('accepts a call signed by a configured site', async () => {
    expect((await siteA.call('POST', '/sync/v1/pull', pull)).status).toBe(200);
  });

  it('refuses an unsigned call', async () => {
    const res = await siteA.call('POST', '/sync/v1/pull', pull, { unsigned: true });
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ statusCode: 401, code: 'unauthorized' });
  });

  it('refuses a call forged with a key the config does not hold', async () => {
    const stranger = new SiteCaller(mdc.target, 'site-a', generateKeyPairSync('ed25519').privateKey);
    expect((await stranger.call('POST', '/sync/v1/pull', pull)).status).toBe(401);
  });

  it('refuses a replayed call (same nonce)', async () => {
    const nonce = randomUUID().replace(/-/g, '');
    expect((await siteA.call('POST', '/sync/v1/pull', pull, { nonce })).status).toBe(200);
    expect((await siteA.call('POST', '/sync/v1/pull', pull, { nonce })).status).toBe(401);
  });

  it('refuses a stale call (timestamp 60 s old) and one from 60 s in the future', async () => {
    expect((await siteA.call('POST', '/sync/v1/pull', pull, { now: Date.now() - 60_000 })).status).toBe(401);
    expect((await siteA.call('POST', '/sync/v1/pull', pull, { now: Date.now() + 60_000 })).status).toBe(401);
  });

  it('refuses a body changed after signing', async () => {
    const body = JSON.stringify({ cursor: '0' });
    const headers = siteA.headersFor('POST', '/sync/v1/pull', body);
    const res = await fetch(`${mdc.url}/sync/v1/pull`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ cursor: '1' }),
    });
    expect(res.status).toBe(401);
  });

  /** A push of one change: creating the domain `name`, in a new epoch. */
  function pushCreating(name: string) {
    const change = { op: 'domain.create', id: randomUUID(), name, parent: null, settings: {} };
    return { epoch: randomUUID(), changes: [{ seq: 1, change, actor: 'ops', at: new Date().toISOString() }] };
  }

  it('does not let site-a push as site-b', async () => {
    const body = pushCreating('impostor');
    const res = await siteA.call<PushResponse>('POST', '/sync/v1/push', body, { claimSite: 'site-b' });
    expect(res.status).toBe(401);
    expect((await mdc.admin().get('/domains/impostor')).status).toBe(404);
  });

  it('refuses a push signed for another site: a call captured on its way to site-b is not good at the MDC', async () => {
    const body = pushCreating('captured');
    const res = await siteA.call<PushResponse>('POST', '/sync/v1/push', body, { receiver: 'site-b' });
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({
      code: 'unauthorized',
      message: expect.stringMatching(/wrong_receiver/),
    });
    expect((await mdc.admin().get('/domains/captured')).status).toBe(404);
  });

  it('refuses a call in the old signing form (no protocol version, no receiver)', async () => {
    const headers = siteA.headersFor('POST', '/sync/v1/pull', JSON.stringify(pull));
    delete headers['x-site-protocol'];
    delete headers['x-site-receiver'];
    const res = await fetch(`${mdc.url}/sync/v1/pull`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify(pull),
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ message: expect.stringMatching(/unsupported_protocol/) });
  });

  it('does not take an admin bearer token for a site call', async () => {
    const res = await fetch(`${mdc.url}/sync/v1/pull`, {
      method: 'POST',
      headers: { authorization: `Bearer ${mdc.files.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(pull),
    });
    expect(res.status).toBe(401);
  });
});
