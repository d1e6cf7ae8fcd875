import { generateKeyPairSync, KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, sign } from 'node:crypto';
import {
  loadPrivateKey,
  MemoryNonceStore,
  NonceStore,
  publicKeyFromPem,
  SITE_HEADERS,
  signingPayload,
  signRequest,
  verifySiteRequest,
} from './site-signature';
import { makeSiteKeyPair } from './testing';

const NOW = 1_700_000_000_000;
const siteA = makeSiteKeyPair();
const siteB = makeSiteKeyPair();
const siteARotated = makeSiteKeyPair();

const configKeys: Record<string, KeyObject[]> = {
  'site-a': [publicKeyFromPem(siteA.publicKeyPem)],
  'site-b': [publicKeyFromPem(siteB.publicKeyPem)],
};
const publicKeysOf = (siteId: string): KeyObject[] | undefined => configKeys[siteId];

/** A push from site-a to the MDC, the site that verifies in these tests unless one says otherwise. */
const push = { receiver: 'mdc', method: 'POST', path: '/api/v1/sync/push?epoch=3', body: '{"changes":[]}' };

function signedBySiteA(
  overrides: { now?: number; nonce?: string; privateKey?: KeyObject; receiver?: string } = {},
) {
  return signRequest({ siteId: 'site-a', privateKey: siteA.privateKey, ...push, now: NOW, ...overrides });
}

function verify(
  headers: Record<string, string | string[] | undefined>,
  options: {
    nonces?: NonceStore;
    method?: string;
    path?: string;
    body?: string;
    keys?: typeof publicKeysOf;
    now?: number;
    receiver?: string;
  } = {},
) {
  return verifySiteRequest({
    receiver: options.receiver ?? push.receiver,
    headers,
    method: options.method ?? push.method,
    path: options.path ?? push.path,
    body: options.body ?? push.body,
    publicKeysOf: options.keys ?? publicKeysOf,
    nonces: options.nonces ?? new MemoryNonceStore(() => NOW),
    now: options.now ?? NOW,
  });
}

describe('site-to-site signatures (SPEC §9)', () => {
  it('accepts a call signed by the site it names', async () => {
    expect(await verify(signedBySiteA())).toEqual({ ok: true, siteId: 'site-a' });
  });

  it('accepts a call with an empty body and headers in any letter case', async () => {
    const headers = signRequest({
      siteId: 'site-b',
      receiver: 'mdc',
      privateKey: siteB.privateKey,
      method: 'get',
      path: '/pull',
    });
    const upperCased = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toUpperCase(), [v]]));
    const result = await verifySiteRequest({
      receiver: 'mdc',
      headers: upperCased,
      method: 'GET',
      path: '/pull',
      publicKeysOf,
      nonces: new MemoryNonceStore(),
    });
    expect(result).toEqual({ ok: true, siteId: 'site-b' });
  });

  it('signs with the six headers, protocol 2, the receiver, a random hex nonce and a base64 Ed25519 signature', () => {
    const headers = signRequest({ siteId: 'site-a', privateKey: siteA.privateKey, ...push, now: NOW });
    expect(Object.keys(headers).sort()).toEqual(Object.values(SITE_HEADERS).sort());
    expect(headers[SITE_HEADERS.protocol]).toBe('2');
    expect(headers[SITE_HEADERS.receiver]).toBe('mdc');
    expect(headers[SITE_HEADERS.timestamp]).toBe(String(NOW));
    expect(headers[SITE_HEADERS.nonce]).toMatch(/^[0-9a-f]{32}$/);
    expect(Buffer.from(headers[SITE_HEADERS.signature], 'base64')).toHaveLength(64);
    expect(signedBySiteA()[SITE_HEADERS.nonce]).not.toBe(headers[SITE_HEADERS.nonce]);
  });

  it('signs the protocol, sender, receiver, method, path, timestamp, nonce and the SHA-256 of the body', () => {
    const fields = { siteId: 'site-a', receiver: 'site-b', timestamp: '42', nonce: 'n1' };
    const payload = signingPayload({ ...fields, method: 'post', path: '/p?q=1', body: 'abc' });
    expect(payload.toString()).toBe(
      'dd-site-call/2\nsite-a\nsite-b\nPOST\n/p?q=1\n42\nn1\n' +
        'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    const get = { ...fields, method: 'GET', path: '/' };
    expect(
      signingPayload({ ...get, body: undefined }).equals(signingPayload({ ...get, body: Buffer.alloc(0) })),
    ).toBe(true);
  });

  it('refuses at site-c a call signed for site-b: a captured call is good at one site only', async () => {
    const forB = signedBySiteA({ receiver: 'site-b' });
    expect(await verify(forB, { receiver: 'site-c' })).toEqual({ ok: false, reason: 'wrong_receiver' });
    expect(await verify(forB, { receiver: 'site-b' })).toEqual({ ok: true, siteId: 'site-a' });
  });

  it('refuses a call whose receiver header was rewritten after signing', async () => {
    const rewritten = { ...signedBySiteA({ receiver: 'site-b' }), [SITE_HEADERS.receiver]: 'site-c' };
    expect(await verify(rewritten, { receiver: 'site-c' })).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('refuses a call without the receiver header', async () => {
    const headers = { ...signedBySiteA(), [SITE_HEADERS.receiver]: undefined };
    expect(await verify(headers)).toEqual({ ok: false, reason: 'wrong_receiver' });
  });

  it('refuses a call in the old form (protocol 1: no protocol header, no receiver signed)', async () => {
    const timestamp = String(NOW);
    const nonce = 'v1-nonce';
    const bodySha256 = createHash('sha256').update(push.body).digest('hex');
    const v1Payload = `${push.method}\n${push.path}\n${timestamp}\n${nonce}\n${bodySha256}`;
    const v1 = {
      [SITE_HEADERS.site]: 'site-a',
      [SITE_HEADERS.timestamp]: timestamp,
      [SITE_HEADERS.nonce]: nonce,
      [SITE_HEADERS.signature]: sign(null, Buffer.from(v1Payload), siteA.privateKey).toString('base64'),
    };
    expect(await verify(v1)).toEqual({ ok: false, reason: 'unsupported_protocol' });
    expect(await verify({ ...v1, [SITE_HEADERS.protocol]: '2', [SITE_HEADERS.receiver]: 'mdc' })).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });

  it('refuses a call that claims another protocol version', async () => {
    const headers = { ...signedBySiteA(), [SITE_HEADERS.protocol]: '3' };
    expect(await verify(headers)).toEqual({ ok: false, reason: 'unsupported_protocol' });
  });

  it('refuses an unsigned call', async () => {
    expect(await verify({})).toEqual({ ok: false, reason: 'unsigned' });
  });

  it.each([SITE_HEADERS.site, SITE_HEADERS.timestamp, SITE_HEADERS.nonce, SITE_HEADERS.signature])(
    'refuses a call missing the %s header as unsigned',
    async (name) => {
      const headers: Record<string, string | undefined> = { ...signedBySiteA(), [name]: undefined };
      expect(await verify(headers)).toEqual({ ok: false, reason: 'unsigned' });
    },
  );

  it('refuses a call from a site not in the config', async () => {
    const headers = signRequest({ siteId: 'site-z', privateKey: siteA.privateKey, ...push, now: NOW });
    expect(await verify(headers)).toEqual({ ok: false, reason: 'unknown_site' });
  });

  it('refuses a call forged with another key', async () => {
    const forger = makeSiteKeyPair();
    expect(await verify(signedBySiteA({ privateKey: forger.privateKey }))).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });

  it('refuses a call whose body was tampered with', async () => {
    expect(await verify(signedBySiteA(), { body: '{"changes":[{"op":"delete"}]}' })).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });

  it('refuses a call whose path or query was tampered with', async () => {
    expect(await verify(signedBySiteA(), { path: '/api/v1/sync/push?epoch=4' })).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });

  it('refuses a call whose method was tampered with', async () => {
    expect(await verify(signedBySiteA(), { method: 'PUT' })).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('refuses a call whose timestamp was changed after signing', async () => {
    const headers = { ...signedBySiteA(), [SITE_HEADERS.timestamp]: String(NOW + 1) };
    expect(await verify(headers)).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('refuses a replayed call (nonce already seen)', async () => {
    const nonces = new MemoryNonceStore(() => NOW);
    const headers = signedBySiteA();
    expect(await verify(headers, { nonces })).toEqual({ ok: true, siteId: 'site-a' });
    expect(await verify(headers, { nonces })).toEqual({ ok: false, reason: 'replayed' });
  });

  it('keeps nonces apart per site', async () => {
    const nonces = new MemoryNonceStore(() => NOW);
    const nonce = 'shared-nonce';
    const fromB = signRequest({ siteId: 'site-b', privateKey: siteB.privateKey, ...push, now: NOW, nonce });
    expect(await verify(signedBySiteA({ nonce }), { nonces })).toEqual({ ok: true, siteId: 'site-a' });
    expect(await verify(fromB, { nonces })).toEqual({ ok: true, siteId: 'site-b' });
  });

  it('refuses a call signed 60 s ago as stale', async () => {
    expect(await verify(signedBySiteA({ now: NOW - 60_000 }))).toEqual({ ok: false, reason: 'stale' });
  });

  it('refuses a call signed 60 s in the future as stale', async () => {
    expect(await verify(signedBySiteA({ now: NOW + 60_000 }))).toEqual({ ok: false, reason: 'stale' });
  });

  it('accepts a call within 30 s of skew either way', async () => {
    expect(await verify(signedBySiteA({ now: NOW - 30_000 }))).toEqual({ ok: true, siteId: 'site-a' });
    expect(await verify(signedBySiteA({ now: NOW + 30_000 }))).toEqual({ ok: true, siteId: 'site-a' });
  });

  it('refuses a timestamp that is not a number of milliseconds as stale', async () => {
    expect(await verify({ ...signedBySiteA(), [SITE_HEADERS.timestamp]: 'soon' })).toEqual({
      ok: false,
      reason: 'stale',
    });
  });

  it('refuses site-a signing while claiming to be site-b: a site can act only as itself', async () => {
    const headers = signRequest({ siteId: 'site-b', privateKey: siteA.privateKey, ...push, now: NOW });
    expect(await verify(headers)).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('accepts either of two keys while a key rotation rolls out', async () => {
    const rotating = (siteId: string) =>
      siteId === 'site-a'
        ? [publicKeyFromPem(siteA.publicKeyPem), publicKeyFromPem(siteARotated.publicKeyPem)]
        : undefined;
    expect(await verify(signedBySiteA(), { keys: rotating })).toEqual({ ok: true, siteId: 'site-a' });
    expect(await verify(signedBySiteA({ privateKey: siteARotated.privateKey }), { keys: rotating })).toEqual({
      ok: true,
      siteId: 'site-a',
    });
  });

  it('does not let a forged call burn the nonce of the legitimate sender', async () => {
    const nonces = new MemoryNonceStore(() => NOW);
    const nonce = 'fresh-nonce-1';
    const forger = makeSiteKeyPair();
    expect(await verify(signedBySiteA({ nonce, privateKey: forger.privateKey }), { nonces })).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    expect(await verify(signedBySiteA({ nonce }), { nonces })).toEqual({ ok: true, siteId: 'site-a' });
  });

  it('remembers the nonce as site id plus nonce for twice the allowed skew', async () => {
    const remembered: Array<[string, number]> = [];
    const nonces: NonceStore = {
      remember: async (key, ttlMs) => {
        remembered.push([key, ttlMs]);
        return true;
      },
    };
    await verify(signedBySiteA({ nonce: 'n-1' }), { nonces });
    expect(remembered).toEqual([['site-a\nn-1', 60_000]]);
  });

  it('refuses a repeated signing header as unsigned', async () => {
    const headers = signedBySiteA();
    const doubled = { ...headers, [SITE_HEADERS.site]: ['site-a', 'site-b'] };
    expect(await verify(doubled)).toEqual({ ok: false, reason: 'unsigned' });
  });
});

describe('MemoryNonceStore', () => {
  it('says a nonce is new once, until its time to live is over', async () => {
    let now = 0;
    const store = new MemoryNonceStore(() => now);
    expect(await store.remember('k', 1000)).toBe(true);
    now = 999;
    expect(await store.remember('k', 1000)).toBe(false);
    now = 1000;
    expect(await store.remember('k', 1000)).toBe(true);
  });

  it('forgets expired nonces as it is used', async () => {
    let now = 0;
    const store = new MemoryNonceStore(() => now);
    await store.remember('a', 100);
    await store.remember('b', 100);
    now = 200;
    await store.remember('c', 100);
    expect(store.size).toBe(1);
  });
});

describe('site keys', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'site-auth-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads a private key from PEM text', () => {
    expect(loadPrivateKey(siteA.privateKeyPem).asymmetricKeyType).toBe('ed25519');
  });

  it('loads a private key from a file path (SITE_KEY_FILE)', () => {
    const file = join(dir, 'site-a.pem');
    writeFileSync(file, siteA.privateKeyPem);
    const key = loadPrivateKey(file);
    const headers = signRequest({ siteId: 'site-a', privateKey: key, ...push, now: NOW });
    return expect(verify(headers)).resolves.toEqual({ ok: true, siteId: 'site-a' });
  });

  it('refuses a private key that is not Ed25519', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const pem = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(() => loadPrivateKey(pem)).toThrow(/must be an Ed25519 key, got rsa/);
  });

  it('says clearly when the key file cannot be read', () => {
    expect(() => loadPrivateKey(join(dir, 'missing.pem'))).toThrow(/cannot read the site private key file/);
  });

  it('says clearly when the PEM text is not a key', () => {
    expect(() => loadPrivateKey('-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----')).toThrow(
      /cannot parse the site private key/,
    );
  });

  it('refuses a public key that is not Ed25519', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const pem = ec.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(() => publicKeyFromPem(pem)).toThrow(/must be an Ed25519 key, got ec/);
  });
});
