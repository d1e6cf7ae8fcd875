import {
  createHash,
  createPrivateKey,
  createPublicKey,
  randomBytes,
  sign,
  verify,
  KeyObject,
} from 'node:crypto';
import { readFileSync } from 'node:fs';

/** SPEC §9: the headers a sending site adds to every site-to-site call (push, pull, manifest, signal, proxy). */
export const SITE_HEADERS = {
  protocol: 'x-site-protocol',
  site: 'x-site-id',
  receiver: 'x-site-receiver',
  timestamp: 'x-site-timestamp',
  nonce: 'x-site-nonce',
  signature: 'x-site-signature',
} as const;

/**
 * The signing protocol. Version 2 signs the receiving site's id (SPEC §9: a captured call cannot be
 * replayed at another site); a call in any other version, the receiver-less version 1 included, is refused.
 */
export const SITE_PROTOCOL = '2';

/** SPEC §9: clock skew over 30 s, either direction, makes a call stale. */
export const DEFAULT_MAX_SKEW_MS = 30_000;

const PEM_MARKER = '-----BEGIN';
const TIMESTAMP_PATTERN = /^\d{1,15}$/;
// Nonces are remembered, so keep them short and free of the payload's '\n' separator.
const NONCE_PATTERN = /^[A-Za-z0-9_+/=-]{1,128}$/;

function requireEd25519(key: KeyObject, what: string): KeyObject {
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new Error(`${what} must be an Ed25519 key, got ${key.asymmetricKeyType ?? 'an unknown key type'}`);
  }
  return key;
}

/** The site's private key (SPEC §4 `SITE_KEY_FILE`): PEM text, or the path of a PEM file. */
export function loadPrivateKey(pemOrPath: string): KeyObject {
  const isPem = pemOrPath.includes(PEM_MARKER);
  let pem: string;
  try {
    pem = isPem ? pemOrPath : readFileSync(pemOrPath, 'utf8');
  } catch (error) {
    throw new Error(`cannot read the site private key file ${pemOrPath}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (error) {
    const source = isPem ? 'the given PEM text' : pemOrPath;
    throw new Error(`cannot parse the site private key from ${source}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return requireEd25519(key, 'the site private key');
}

/** A site's public key as written in the cluster config (`publicKey`, PEM). */
export function publicKeyFromPem(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (error) {
    throw new Error(`cannot parse the site public key: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return requireEd25519(key, 'a site public key');
}

/** What one signature covers (SPEC §9). */
export interface SignedFields {
  /** the sending site */
  siteId: string;
  /** the site the call is sent to */
  receiver: string;
  method: string;
  /** path + query, exactly as sent */
  path: string;
  timestamp: string;
  nonce: string;
  body: Buffer | string | undefined;
}

/**
 * SPEC §9: what is signed — the protocol version, the sending and the receiving site, the method,
 * the path with query, a timestamp, a nonce and the body's SHA-256, one per line.
 */
export function signingPayload(fields: SignedFields): Buffer {
  const bodySha256 = createHash('sha256')
    .update(fields.body ?? '')
    .digest('hex');
  return Buffer.from(
    [
      `dd-site-call/${SITE_PROTOCOL}`,
      fields.siteId,
      fields.receiver,
      fields.method.toUpperCase(),
      fields.path,
      fields.timestamp,
      fields.nonce,
      bodySha256,
    ].join('\n'),
    'utf8',
  );
}

/** The `SITE_HEADERS` for one outgoing site-to-site call to `receiver`. */
export function signRequest(input: {
  siteId: string;
  /** the id of the site the call is sent to: no other site accepts it */
  receiver: string;
  privateKey: KeyObject;
  method: string;
  /** path + query, exactly as sent */
  path: string;
  body?: Buffer | string;
  now?: number;
  nonce?: string;
}): Record<string, string> {
  const timestamp = String(Math.trunc(input.now ?? Date.now()));
  const nonce = input.nonce ?? randomBytes(16).toString('hex');
  const { siteId, receiver, method, path, body } = input;
  const payload = signingPayload({ siteId, receiver, method, path, timestamp, nonce, body });
  return {
    [SITE_HEADERS.protocol]: SITE_PROTOCOL,
    [SITE_HEADERS.site]: input.siteId,
    [SITE_HEADERS.receiver]: input.receiver,
    [SITE_HEADERS.timestamp]: timestamp,
    [SITE_HEADERS.nonce]: nonce,
    [SITE_HEADERS.signature]: sign(null, payload, input.privateKey).toString('base64'),
  };
}

export interface NonceStore {
  /** true if this nonce was not seen before (and now is remembered for ttlMs) */
  remember(key: string, ttlMs: number): Promise<boolean>;
}

/** A NonceStore for one process (tests, a single replica); replicas of a site need a shared store. */
export class MemoryNonceStore implements NonceStore {
  private readonly expiresAt = new Map<string, number>();

  constructor(private readonly clock: () => number = Date.now) {}

  async remember(key: string, ttlMs: number): Promise<boolean> {
    const now = this.clock();
    this.prune(now);
    const seenUntil = this.expiresAt.get(key);
    if (seenUntil !== undefined && seenUntil > now) return false;
    this.expiresAt.delete(key);
    this.expiresAt.set(key, now + ttlMs);
    return true;
  }

  get size(): number {
    return this.expiresAt.size;
  }

  // Entries sit in insertion order and share one ttl in practice, so expired ones are at the front;
  // an entry with a longer ttl only delays pruning of those behind it — lookups check expiry anyway.
  private prune(now: number): void {
    for (const [key, expiresAt] of this.expiresAt) {
      if (expiresAt > now) return;
      this.expiresAt.delete(key);
    }
  }
}

export type SiteVerification =
  | { ok: true; siteId: string }
  | {
      ok: false;
      reason:
        | 'unsigned'
        | 'unsupported_protocol'
        | 'wrong_receiver'
        | 'unknown_site'
        | 'stale'
        | 'bad_signature'
        | 'replayed';
    };

function headerValue(
  headers: Record<string, string | string[] | undefined>,
  name: string,
): string | undefined {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== name) continue;
    // A repeated signing header is ambiguous: treat it as absent.
    const single = Array.isArray(value) ? (value.length === 1 ? value[0] : undefined) : value;
    return single === '' ? undefined : single;
  }
  return undefined;
}

function signatureMatchesAnyKey(
  payload: Buffer,
  signatureBase64: string,
  keys: readonly KeyObject[],
): boolean {
  const signature = Buffer.from(signatureBase64, 'base64');
  return keys.some((key) => {
    try {
      return verify(null, payload, key, signature);
    } catch {
      return false;
    }
  });
}

/**
 * SPEC §9: verifies a site-to-site call. The keys come from the claimed site's config entry, so a
 * site can act only as itself; the call must be signed for `receiver`, so a call captured on its way
 * to one site is refused by every other. The nonce is remembered only after the signature holds, so
 * a forged call cannot burn a nonce that the real sender is about to use.
 */
export async function verifySiteRequest(input: {
  /** the verifying site's own id */
  receiver: string;
  headers: Record<string, string | string[] | undefined>;
  method: string;
  path: string;
  body?: Buffer | string;
  /** from the cluster config; 1 or 2 keys during rotation — either is accepted */
  publicKeysOf: (siteId: string) => KeyObject[] | undefined;
  nonces: NonceStore;
  now?: number;
  maxSkewMs?: number;
}): Promise<SiteVerification> {
  const siteId = headerValue(input.headers, SITE_HEADERS.site);
  const timestamp = headerValue(input.headers, SITE_HEADERS.timestamp);
  const nonce = headerValue(input.headers, SITE_HEADERS.nonce);
  const signature = headerValue(input.headers, SITE_HEADERS.signature);
  if (!siteId || !timestamp || !nonce || !signature || !NONCE_PATTERN.test(nonce)) {
    return { ok: false, reason: 'unsigned' };
  }
  if (headerValue(input.headers, SITE_HEADERS.protocol) !== SITE_PROTOCOL) {
    return { ok: false, reason: 'unsupported_protocol' };
  }
  // The signature covers the receiver too; the header only lets the refusal say why.
  if (headerValue(input.headers, SITE_HEADERS.receiver) !== input.receiver) {
    return { ok: false, reason: 'wrong_receiver' };
  }

  const keys = input.publicKeysOf(siteId);
  if (!keys || keys.length === 0) return { ok: false, reason: 'unknown_site' };

  const maxSkewMs = input.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
  const now = input.now ?? Date.now();
  if (!TIMESTAMP_PATTERN.test(timestamp) || Math.abs(now - Number(timestamp)) > maxSkewMs) {
    return { ok: false, reason: 'stale' };
  }

  const { receiver, method, path, body } = input;
  const payload = signingPayload({ siteId, receiver, method, path, timestamp, nonce, body });
  if (!signatureMatchesAnyKey(payload, signature, keys)) return { ok: false, reason: 'bad_signature' };

  // A call is accepted up to maxSkew after its timestamp, which is at most maxSkew ahead of now.
  const fresh = await input.nonces.remember(`${siteId}\n${nonce}`, 2 * maxSkewMs);
  if (!fresh) return { ok: false, reason: 'replayed' };

  return { ok: true, siteId };
}
