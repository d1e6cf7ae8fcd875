import { createPublicKey, KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import {
  AdminConfig,
  CLUSTER_DEFAULTS,
  ClusterConfig,
  ConfigError,
  DEFAULT_MASTER_DOMAIN,
  RateLimitConfig,
  SiteConfig,
  ZoneConfig,
} from './cluster-config.model';

/**
 * SPEC §4: the file is validated at start-up with a clear error naming the bad key.
 * Each section is a table of fields (what a key must hold, its default); the rules that relate
 * one entry to another (unique ids, one master, zones naming known sites) come after, in one place.
 */

/** A broken rule at one key path; parseClusterConfig adds the file name. */
class Invalid extends Error {
  constructor(
    readonly key: string,
    readonly detail: string,
  ) {
    super(`${key}: ${detail}`);
  }
}

type Reader<T> = (value: unknown, key: string) => T;

interface Field<T> {
  read: Reader<T>;
  /** the key in the file, when it differs from the property name */
  fileKey?: string;
  /** used when the key is absent or empty; a field without one is required */
  default?: T;
  /** the key may be left out, and is then absent from the result too */
  optional?: boolean;
}

type Schema<T> = { [K in keyof T]-?: Field<T[K]> };

const SITE_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
const DOMAIN_LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const SINGLE_LABEL = new RegExp(`^${DOMAIN_LABEL}$`);
const DOMAIN_NAME = new RegExp(`^${DOMAIN_LABEL}(?:\\.${DOMAIN_LABEL})*$`);
const SHA256_HEX = /^[0-9a-fA-F]{64}$/;

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'nothing';
  return typeof value === 'object' ? 'a mapping' : `${typeof value} ${JSON.stringify(value)}`;
}

function child(key: string, name: string): string {
  return key === '' ? name : `${key}.${name}`;
}

function record<T>(schema: Schema<T>): Reader<T> {
  const fields = Object.entries(schema) as [string, Field<unknown>][];
  const fileKeys = fields.map(([property, field]) => field.fileKey ?? property);
  return (value, key) => {
    if (!isMapping(value)) throw new Invalid(key || '(root)', `expected a mapping, got ${describe(value)}`);
    const unknownKey = Object.keys(value).find((name) => !fileKeys.includes(name));
    if (unknownKey !== undefined) {
      throw new Invalid(child(key, unknownKey), `unknown key (expected one of: ${fileKeys.join(', ')})`);
    }
    const result: Record<string, unknown> = {};
    for (const [property, field] of fields) {
      const fileKey = field.fileKey ?? property;
      const raw = value[fileKey];
      if (raw !== undefined && raw !== null) result[property] = field.read(raw, child(key, fileKey));
      else if (field.default !== undefined) result[property] = field.default;
      else if (!field.optional) throw new Invalid(child(key, fileKey), 'required');
    }
    return result as T;
  };
}

function listOf<T>(item: Reader<T>, what: string, size: { min?: number; max?: number } = {}): Reader<T[]> {
  const { min = 0, max = Infinity } = size;
  return (value, key) => {
    if (!Array.isArray(value) || value.length < min || value.length > max) {
      const count =
        max === Infinity ? (min > 0 ? 'a non-empty list' : 'a list') : `a list of ${min} to ${max}`;
      throw new Invalid(key, `expected ${count} of ${what}, got ${describe(value)}`);
    }
    return value.map((element, i) => item(element, `${key}[${i}]`));
  };
}

function matching(pattern: RegExp, what: string): Reader<string> {
  return (value, key) => {
    if (typeof value !== 'string' || !pattern.test(value)) {
      throw new Invalid(key, `${describe(value)} is not a valid ${what}`);
    }
    return value;
  };
}

const nonEmptyString: Reader<string> = (value, key) => {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new Invalid(key, `expected a non-empty string, got ${describe(value)}`);
  }
  return value;
};

const positiveInteger: Reader<number> = (value, key) => {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new Invalid(key, `expected a positive integer, got ${describe(value)}`);
  }
  return value;
};

/**
 * SPEC §11: a WAIT holds the site's Redis connection; commands queued behind it give up after the
 * SDC's 1.5 s command timeout, so a wait may take at most 1 s.
 */
const MAX_REDIS_WAIT_MS = 1000;
const redisWaitTimeout: Reader<number> = (value, key) => {
  const ms = positiveInteger(value, key);
  if (ms > MAX_REDIS_WAIT_MS) throw new Invalid(key, `at most ${MAX_REDIS_WAIT_MS} ms, got ${ms}`);
  return ms;
};

const nonNegativeInteger: Reader<number> = (value, key) => {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new Invalid(key, `expected an integer ≥ 0, got ${describe(value)}`);
  }
  return value;
};

const siteId = matching(SITE_ID, 'site id ([a-z0-9][a-z0-9-]{0,62})');

const siteRole: Reader<SiteConfig['role']> = (value, key) => {
  if (value !== 'master' && value !== 'site') {
    throw new Invalid(key, `expected 'master' or 'site', got ${describe(value)}`);
  }
  return value;
};

// SPEC §3: lowercase labels joined by dots, at most 253 characters.
const domainName: Reader<string> = (value, key) => {
  const name = matching(DOMAIN_NAME, "domain name (lowercase labels of a-z, 0-9 and '-', joined by dots)")(
    value,
    key,
  );
  if (name.length > 253) throw new Invalid(key, `domain name is ${name.length} characters, at most 253`);
  return name;
};

// SPEC §3: the master domain is a first-level domain.
const masterDomainName = matching(SINGLE_LABEL, 'first-level domain name (one lowercase label)');

/** Peers append API paths to it, so a trailing slash is dropped. */
const httpUrl: Reader<string> = (value, key) => {
  let url: URL | undefined;
  try {
    url = typeof value === 'string' ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new Invalid(key, `${describe(value)} is not a valid http(s) URL`);
  }
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw new Invalid(key, 'a site URL may not carry credentials, a query or a fragment');
  }
  return (value as string).replace(/\/+$/, '');
};

const NOT_ED25519_PEM = 'not a valid Ed25519 public key (PEM)';

// SPEC §9: site-to-site calls are verified with Ed25519 keys; kept in one canonical PEM form.
const ed25519PublicKey: Reader<string> = (value, key) => {
  if (typeof value !== 'string') throw new Invalid(key, NOT_ED25519_PEM);
  if (value.includes('PRIVATE KEY-----')) {
    throw new Invalid(
      key,
      `${NOT_ED25519_PEM}: this is a private key, which must never be in the shared config`,
    );
  }
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey(value);
  } catch {
    throw new Invalid(key, NOT_ED25519_PEM);
  }
  if (publicKey.asymmetricKeyType !== 'ed25519') {
    throw new Invalid(key, `${NOT_ED25519_PEM}: found a ${publicKey.asymmetricKeyType ?? 'unknown'} key`);
  }
  return publicKey.export({ type: 'spki', format: 'pem' }).toString();
};

// SPEC §9: one key, or a list of two while a new one rolls out.
const publicKeys: Reader<string[]> = (value, key) =>
  typeof value === 'string'
    ? [ed25519PublicKey(value, key)]
    : listOf(ed25519PublicKey, 'PEM public keys', { min: 1, max: 2 })(value, key);

const tokenSha256: Reader<string> = (value, key) =>
  matching(SHA256_HEX, 'SHA-256 (64 hex characters)')(value, key).toLowerCase();

// SPEC §9: "*" or a list of domains, each with its descendants.
const adminScope: Reader<AdminConfig['scope']> = (value, key) => {
  if (value === '*' || (Array.isArray(value) && value.length === 1 && value[0] === '*')) return '*';
  if (Array.isArray(value) && value.length > 1 && value.includes('*')) {
    throw new Invalid(key, "'*' already covers every domain; list it alone or list domains");
  }
  if (typeof value === 'string') {
    throw new Invalid(key, `expected "*" or a list of domain names, got ${describe(value)}`);
  }
  return listOf(domainName, 'domain names, or "*"', { min: 1 })(value, key);
};

// SPEC §5: per admin token; no limit unless one is configured.
const rateLimit: Reader<RateLimitConfig> = record<RateLimitConfig>({
  max: { read: positiveInteger },
  windowMs: { read: positiveInteger },
});

const clusterSchema: Schema<ClusterConfig['cluster']> = {
  syncIntervalMs: { read: positiveInteger, default: CLUSTER_DEFAULTS.syncIntervalMs },
  submitQueueCapacity: { read: positiveInteger, default: CLUSTER_DEFAULTS.submitQueueCapacity },
  tombstoneRetentionMs: { read: positiveInteger, default: CLUSTER_DEFAULTS.tombstoneRetentionMs },
  zoneMoveGraceMs: { read: positiveInteger, default: CLUSTER_DEFAULTS.zoneMoveGraceMs },
  ackRetentionMs: { read: positiveInteger, default: CLUSTER_DEFAULTS.ackRetentionMs },
  redisWaitReplicas: { read: nonNegativeInteger, default: CLUSTER_DEFAULTS.redisWaitReplicas },
  redisWaitTimeoutMs: { read: redisWaitTimeout, default: CLUSTER_DEFAULTS.redisWaitTimeoutMs },
  rateLimit: { read: rateLimit, optional: true },
};

const siteSchema: Schema<SiteConfig> = {
  id: { read: siteId },
  role: { read: siteRole, default: 'site' },
  url: { read: httpUrl },
  publicKeys: { read: publicKeys, fileKey: 'publicKey' },
};

const zoneSchema: Schema<ZoneConfig> = {
  domain: { read: domainName },
  sites: { read: listOf(siteId, 'site ids', { min: 1 }) },
};

const adminSchema: Schema<AdminConfig> = {
  name: { read: nonEmptyString },
  tokenSha256: { read: tokenSha256 },
  scope: { read: adminScope },
  rateLimit: { read: rateLimit, optional: true },
};

const configSchema: Schema<ClusterConfig> = {
  cluster: { read: record(clusterSchema), default: CLUSTER_DEFAULTS },
  masterDomain: { read: masterDomainName, default: DEFAULT_MASTER_DOMAIN },
  sites: { read: listOf(record(siteSchema), 'sites', { min: 1 }) },
  zones: { read: listOf(record(zoneSchema), 'zones'), default: [] },
  admins: { read: listOf(record(adminSchema), 'admins'), default: [] },
};

/** Refuses the second of two entries of `list` that share a value. */
function refuseDuplicates<T>(items: T[], list: string, field: string, valueOf: (item: T) => string): void {
  const firstIndex = new Map<string, number>();
  items.forEach((item, i) => {
    const value = valueOf(item);
    const first = firstIndex.get(value);
    if (first !== undefined) {
      throw new Invalid(`${list}[${i}].${field}`, `duplicate '${value}' (also ${list}[${first}].${field})`);
    }
    firstIndex.set(value, i);
  });
}

/** The rules that relate entries to each other. */
function checkRelations(config: ClusterConfig): void {
  refuseDuplicates(config.sites, 'sites', 'id', (site) => site.id);

  const masters = config.sites.flatMap((site, i) => (site.role === 'master' ? [i] : []));
  if (masters.length === 0) {
    throw new Invalid('sites', 'no master: exactly one site must have role: master');
  }
  if (masters.length > 1) {
    const [first, second] = masters;
    throw new Invalid(
      `sites[${second}].role`,
      `two masters: sites[${first}] and sites[${second}] both have role: master; exactly one may`,
    );
  }

  refuseDuplicates(config.zones, 'zones', 'domain', (zone) => zone.domain);
  const knownSites = new Set(config.sites.map((site) => site.id));
  config.zones.forEach((zone, z) => {
    // SPEC §3: the master domain is served only at the master site.
    if (zone.domain === config.masterDomain || zone.domain.endsWith(`.${config.masterDomain}`)) {
      throw new Invalid(
        `zones[${z}].domain`,
        `'${zone.domain}' is within the master domain '${config.masterDomain}', which only the master site serves`,
      );
    }
    zone.sites.forEach((id, s) => {
      if (!knownSites.has(id)) throw new Invalid(`zones[${z}].sites[${s}]`, `unknown site '${id}'`);
      if (zone.sites.indexOf(id) !== s)
        throw new Invalid(`zones[${z}].sites[${s}]`, `site '${id}' listed twice`);
    });
  });

  refuseDuplicates(config.admins, 'admins', 'name', (admin) => admin.name);
  // A token identifies one admin; two admins sharing it would make the identity ambiguous.
  refuseDuplicates(config.admins, 'admins', 'tokenSha256', (admin) => admin.tokenSha256);
}

function parseYaml(text: string): unknown {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false });
  const [error] = document.errors;
  if (error !== undefined) {
    const { line, col } = lineCounter.linePos(error.pos[0]);
    throw new Invalid('(yaml)', `line ${line}, column ${col}: ${error.message}`);
  }
  try {
    return document.toJS();
  } catch (e) {
    throw new Invalid('(yaml)', e instanceof Error ? e.message : String(e));
  }
}

/** The config is shared by every service of a process and indexed per object, so it never changes. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.values(value).forEach(deepFreeze);
    Object.freeze(value);
  }
  return value;
}

/** Parses and validates a cluster config file's text; the result is frozen. */
export function parseClusterConfig(text: string, file: string): ClusterConfig {
  try {
    const config = record(configSchema)(parseYaml(text), '');
    checkRelations(config);
    return deepFreeze(config);
  } catch (e) {
    if (e instanceof Invalid) throw new ConfigError(file, e.key, e.detail);
    throw e;
  }
}

/** The file's text; a file that cannot be read is a ConfigError like any other bad file. */
export function readClusterConfigText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(file, '(file)', `cannot be read: ${e instanceof Error ? e.message : String(e)}`);
  }
}

export function loadClusterConfig(file: string): ClusterConfig {
  return parseClusterConfig(readClusterConfigText(file), file);
}
