import { makeSiteKeyPair, publicKeyFromPem } from '@dd/site-auth';
import type { PushRequest } from '@dd/sync-protocol';
import { MdcFailedError, MdcRefusedError, MdcUnreachableError } from './errors';
import { MdcClient } from './mdc-client';
import { SiteHttp } from './site-http';
import { closedPort, FarSite, sendJson } from './testing';

const siteA = makeSiteKeyPair();
const http = new SiteHttp({ siteId: 'site-a', privateKey: siteA.privateKey });

/** An MDC stand-in: refuses bad signatures with 401 as the real guard does, echoes what it got. */
function fakeMdc(status = 200) {
  return new FarSite({ 'site-a': publicKeyFromPem(siteA.publicKeyPem) }, (call, res) => {
    if (!call.verification.ok) return sendJson(res, 401, { statusCode: 401, code: 'unauthorized' });
    sendJson(res, status, { path: call.path, got: JSON.parse(call.raw) });
  });
}

describe('MdcClient (SPEC §7, §8)', () => {
  const mdc = fakeMdc();
  const client = new MdcClient(http, () => mdc.target);
  beforeAll(() => mdc.listen());
  afterAll(() => mdc.close());

  it('pushes a batch to /sync/v1/push, signed as the site', async () => {
    const req: PushRequest = { epoch: 'epoch-0001', changes: [], queueLength: 0 };
    await expect(client.push(req)).resolves.toEqual({ path: '/sync/v1/push', got: req });
    expect(mdc.calls.at(-1)).toMatchObject({ method: 'POST', verification: { ok: true, siteId: 'site-a' } });
  });

  it('pulls, asks for the manifest and for snapshots on their paths', async () => {
    await expect(client.pull({ cursor: '7', limit: 10 })).resolves.toEqual({
      path: '/sync/v1/pull',
      got: { cursor: '7', limit: 10 },
    });
    await expect(client.manifest(true)).resolves.toEqual({
      path: '/sync/v1/manifest',
      got: { detail: true },
    });
    await expect(client.manifest(true, ['acme'])).resolves.toEqual({
      path: '/sync/v1/manifest',
      got: { detail: true, buckets: ['acme'] },
    });
    await expect(client.snapshot({})).resolves.toEqual({ path: '/sync/v1/snapshot', got: {} });
    await expect(client.snapshot({ slices: [{ domain: 'acme', buckets: [3] }], limit: 10 })).resolves.toEqual(
      {
        path: '/sync/v1/snapshot',
        got: { slices: [{ domain: 'acme', buckets: [3] }], limit: 10 },
      },
    );
  });

  it('reads the MDC address from the config in force at each call', async () => {
    const moved = await fakeMdc().listen();
    let target = mdc.target;
    const following = new MdcClient(http, () => target);
    await following.manifest(false);
    target = moved.target;
    await following.manifest(false);
    expect(moved.calls).toHaveLength(1);
    await moved.close();
  });

  it('throws MdcUnreachableError when nothing answers', async () => {
    const down = new MdcClient(http, () => ({ id: 'mdc', url: `http://127.0.0.1:${port}` }));
    const port = await closedPort();
    await expect(down.manifest(false)).rejects.toBeInstanceOf(MdcUnreachableError);
  });

  it.each([502, 503, 504])(
    'throws MdcUnreachableError when the MDC answers %i (nothing behind the balancer, restarting, store down)',
    async (status) => {
      const failing = await fakeMdc(status).listen();
      await expect(new MdcClient(http, () => failing.target).pull({ cursor: '0' })).rejects.toBeInstanceOf(
        MdcUnreachableError,
      );
      await failing.close();
    },
  );

  it('throws MdcFailedError with status and body, not MdcUnreachableError, when the MDC answers 500', async () => {
    const internalError = { statusCode: 500, code: 'internal_error', message: 'error id 7f3a' };
    const failing = await new FarSite({}, (_call, res) => sendJson(res, 500, internalError)).listen();
    const error = await new MdcClient(http, () => failing.target)
      .push({ epoch: 'epoch-0001', changes: [] })
      .catch((e: unknown) => e);
    await failing.close();
    expect(error).toBeInstanceOf(MdcFailedError);
    expect(error).toMatchObject({ status: 500, body: internalError });
    expect((error as Error).message).toBe(
      `the MDC answered 500 to /sync/v1/push: ${JSON.stringify(internalError)}`,
    );
  });

  it('throws MdcRefusedError with status and body when the site keys are wrong (401)', async () => {
    const wrongKey = new SiteHttp({ siteId: 'site-a', privateKey: makeSiteKeyPair().privateKey });
    const error = await new MdcClient(wrongKey, () => mdc.target)
      .push({ epoch: 'epoch-0001', changes: [] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MdcRefusedError);
    expect(error).toMatchObject({ status: 401, body: { code: 'unauthorized' } });
  });

  it('throws MdcRefusedError for a 400', async () => {
    const refusing = await fakeMdc(400).listen();
    await expect(new MdcClient(http, () => refusing.target).pull({ cursor: 'x' })).rejects.toMatchObject({
      name: 'MdcRefusedError',
      status: 400,
    });
    await refusing.close();
  });
});
