import type { ServerResponse } from 'node:http';
import { makeSiteKeyPair, publicKeyFromPem } from '@dd/site-auth';
import { ChangeSignalClient } from './change-signal.client';
import { SiteHttp } from './site-http';
import { FarSite, sendJson } from './testing';

const siteA = makeSiteKeyPair();
const keys = { 'site-a': publicKeyFromPem(siteA.publicKeyPem) };
const http = new SiteHttp({ siteId: 'site-a', privateKey: siteA.privateKey });

/** An MDC stand-in serving the change signal: one `change` at connect, then whatever the test writes. */
function signalMdc(options: { status?: number; head?: string } = {}) {
  const streams = new Set<ServerResponse>();
  afterEachTest.push(() => mdc.close());
  const mdc = new FarSite(keys, (call, res) => {
    if (!call.verification.ok || options.status) return sendJson(res, options.status ?? 401, {});
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.flushHeaders();
    if (options.head !== '') res.write(`event: change\ndata: {"version":"${options.head ?? '5'}"}\n\n`);
    streams.add(res);
    res.on('close', () => streams.delete(res));
  });
  const write = (text: string) => streams.forEach((res) => res.write(text));
  return { mdc, write };
}

// stop clients and servers even when a test fails, so jest exits cleanly
const afterEachTest: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of afterEachTest.splice(0).reverse()) await cleanup();
});

async function until(condition: () => boolean, timeoutMs = 2000): Promise<number> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return Date.now() - started;
}

function watch(mdc: FarSite, options: { idleTimeoutMs?: number } = {}) {
  const versions: string[] = [];
  const transitions: boolean[] = [];
  const resyncs: string[] = [];
  const client = new ChangeSignalClient({
    http,
    master: () => mdc.target,
    onChange: (version, resync) => (resync ? resyncs : versions).push(version),
    onConnectedChange: (connected) => transitions.push(connected),
    ...options,
  });
  afterEachTest.push(() => client.stop());
  return { client, versions, transitions, resyncs };
}

describe('ChangeSignalClient (SPEC §8 change signal)', () => {
  it('opens a signed GET /sync/v1/signal and delivers each change event', async () => {
    const { mdc, write } = signalMdc();
    await mdc.listen();
    const { client, versions } = watch(mdc);
    client.start();
    await until(() => versions.length === 1);
    expect(client.connected).toBe(true);
    expect(mdc.calls[0]).toMatchObject({
      method: 'GET',
      path: '/sync/v1/signal',
      verification: { ok: true, siteId: 'site-a' },
    });

    write('event: change\nda');
    write('ta: {"version":"6"}\n\n: keepalive\n\n');
    write('event: other\ndata: {"version":"x"}\n\n');
    write('event: change\ndata: not json\n\n');
    write('event: change\r\ndata: {"version":"7"}\r\n\r\n');
    await until(() => versions.length === 3);
    expect(versions).toEqual(['5', '6', '7']);
  });

  it('says when the MDC asks for a whole cycle, whatever the version (its database back: SPEC §11)', async () => {
    const { mdc, write } = signalMdc();
    await mdc.listen();
    const { client, versions, resyncs } = watch(mdc);
    client.start();
    await until(() => versions.length === 1);
    write('event: change\ndata: {"version":"3","resync":true}\n\n');
    write('event: change\ndata: {"version":"4","resync":"yes"}\n\n');
    await until(() => versions.length === 2);
    expect({ versions, resyncs }).toEqual({ versions: ['5', '4'], resyncs: ['3'] });
  });

  it('is not connected while the MDC refuses the stream, and keeps retrying with backoff', async () => {
    const { mdc } = signalMdc({ status: 401 });
    await mdc.listen();
    const { client, transitions } = watch(mdc);
    client.start();
    await until(() => mdc.calls.length >= 3);
    expect(client.connected).toBe(false);
    expect(transitions).toEqual([]);
  });

  it('notices the MDC going away and reconnects within 1 s of it coming back on the same port', async () => {
    const { mdc } = signalMdc();
    await mdc.listen();
    const { client, versions, transitions } = watch(mdc);
    client.start();
    await until(() => client.connected);

    await mdc.close();
    await until(() => !client.connected);
    expect(transitions).toEqual([true, false]);

    // long enough an outage for the backoff to reach its cap
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await mdc.listen();
    const reconnectMs = await until(() => client.connected, 1000);
    expect(reconnectMs).toBeLessThan(1000);
    await until(() => versions.length === 2);
    expect(transitions).toEqual([true, false, true]);
  });

  it('reconnects when an open stream stays silent past the idle timeout', async () => {
    const { mdc } = signalMdc({ head: '' });
    await mdc.listen();
    const { client } = watch(mdc, { idleTimeoutMs: 100 });
    client.start();
    await until(() => mdc.calls.length >= 2);
  });

  it('stops: closes the stream, reports disconnected and never reconnects', async () => {
    const { mdc } = signalMdc();
    await mdc.listen();
    const { client, transitions } = watch(mdc);
    client.start();
    await until(() => client.connected);
    await client.stop();
    expect(client.connected).toBe(false);
    expect(transitions).toEqual([true, false]);
    const calls = mdc.calls.length;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(mdc.calls).toHaveLength(calls);
  });

  it('stops at once while waiting to retry an unreachable MDC', async () => {
    const { mdc } = signalMdc();
    await mdc.listen();
    await mdc.close();
    const { client } = watch(mdc);
    client.start();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = Date.now();
    await client.stop();
    expect(Date.now() - started).toBeLessThan(50);
    expect(client.connected).toBe(false);
  });
});
