import { createHash, generateKeyPairSync } from 'node:crypto';
import { stringify } from 'yaml';

/** Test helpers: site keys and cluster config text. Not for production code. */

export interface SiteKeys {
  /** SPKI PEM, as the config's `publicKey` holds it */
  publicKey: string;
  /** PKCS#8 PEM, as `SITE_KEY_FILE` holds it */
  privateKey: string;
}

export function makeSiteKeys(): SiteKeys {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return {
    publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

export function sha256Hex(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export interface SiteOptions {
  id: string;
  role?: 'master' | 'site';
  /** default http://127.0.0.1:<4000 + position> */
  url?: string;
  /** default a fresh Ed25519 key */
  publicKey?: string | string[];
}

export interface AdminOptions {
  name: string;
  /** the plain bearer token; its SHA-256 is written unless tokenSha256 is given */
  token?: string;
  tokenSha256?: string;
  scope: string | string[];
  rateLimit?: { max: number; windowMs: number };
}

export interface ConfigYamlOptions {
  /** default: master (role master), site-a, site-b */
  sites?: SiteOptions[];
  zones?: { domain: string; sites: string[] }[];
  admins?: AdminOptions[];
  masterDomain?: string;
  cluster?: {
    syncIntervalMs?: number;
    submitQueueCapacity?: number;
    tombstoneRetentionMs?: number;
    zoneMoveGraceMs?: number;
    ackRetentionMs?: number;
    redisWaitReplicas?: number;
    redisWaitTimeoutMs?: number;
    rateLimit?: { max: number; windowMs: number };
  };
}

const DEFAULT_SITES: SiteOptions[] = [{ id: 'master', role: 'master' }, { id: 'site-a' }, { id: 'site-b' }];

/**
 * A cluster config file's text. Nothing is validated here, so tests can also build bad files
 * (two masters, unknown sites, broken keys) with it.
 */
export function configYaml(options: ConfigYamlOptions = {}): string {
  const sites = (options.sites ?? DEFAULT_SITES).map((site, i) => ({
    id: site.id,
    ...(site.role === undefined ? {} : { role: site.role }),
    url: site.url ?? `http://127.0.0.1:${4000 + i}`,
    publicKey: site.publicKey ?? makeSiteKeys().publicKey,
  }));
  const admins = options.admins?.map((admin) => ({
    name: admin.name,
    tokenSha256: admin.tokenSha256 ?? sha256Hex(admin.token ?? admin.name),
    scope: admin.scope,
    ...(admin.rateLimit === undefined ? {} : { rateLimit: admin.rateLimit }),
  }));
  return stringify({
    ...(options.cluster === undefined ? {} : { cluster: options.cluster }),
    ...(options.masterDomain === undefined ? {} : { masterDomain: options.masterDomain }),
    sites,
    ...(options.zones === undefined ? {} : { zones: options.zones }),
    ...(admins === undefined ? {} : { admins }),
  });
}
