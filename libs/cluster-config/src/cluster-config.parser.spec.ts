import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLUSTER_DEFAULTS, ConfigError } from './cluster-config.model';
import { loadClusterConfig, parseClusterConfig } from './cluster-config.parser';
import { configYaml, makeSiteKeys, sha256Hex } from './testing';

const FILE = '/etc/dd/cluster.yml';

function refusal(text: string): ConfigError {
  try {
    parseClusterConfig(text, FILE);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('the config was accepted');
}

const rsaPublicKey = generateKeyPairSync('rsa', { modulusLength: 1024 })
  .publicKey.export({ type: 'spki', format: 'pem' })
  .toString();
const ecPublicKey = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  .publicKey.export({ type: 'spki', format: 'pem' })
  .toString();

const master = { id: 'master', role: 'master' as const };

describe('parseClusterConfig', () => {
  it('reads a valid file and fills the defaults (SPEC §4)', () => {
    const keys = makeSiteKeys();
    const config = parseClusterConfig(
      configYaml({
        sites: [
          { ...master, publicKey: keys.publicKey },
          { id: 'site-a', url: 'http://h:4001/' },
        ],
      }),
      FILE,
    );

    expect(config.cluster).toEqual({
      syncIntervalMs: 20_000,
      submitQueueCapacity: 10_000,
      tombstoneRetentionMs: 7 * 24 * 3600 * 1000,
      zoneMoveGraceMs: 7 * 24 * 3600 * 1000,
      ackRetentionMs: 3600 * 1000,
      redisWaitReplicas: 0,
      redisWaitTimeoutMs: 1000,
    });
    expect(config.masterDomain).toBe('master');
    expect(config.zones).toEqual([]);
    expect(config.admins).toEqual([]);
    expect(config.sites[0]).toEqual({
      id: 'master',
      role: 'master',
      url: 'http://127.0.0.1:4000',
      publicKeys: [keys.publicKey],
    });
    expect(config.sites[1].role).toBe('site');
    expect(config.sites[1].url).toBe('http://h:4001');
  });

  it('fills the cluster defaults a partial cluster section leaves out', () => {
    const config = parseClusterConfig(configYaml({ cluster: { syncIntervalMs: 500 } }), FILE);
    expect(config.cluster).toEqual({ ...CLUSTER_DEFAULTS, syncIntervalMs: 500 });
  });

  it('reads the grace for changes to a zone moved away (SPEC §9)', () => {
    const config = parseClusterConfig(configYaml({ cluster: { zoneMoveGraceMs: 1 } }), FILE);
    expect(config.cluster.zoneMoveGraceMs).toBe(1);
  });

  it('reads how long a site keeps acknowledged changes, an hour when not given (SPEC §11)', () => {
    expect(parseClusterConfig(configYaml(), FILE).cluster.ackRetentionMs).toBe(3_600_000);
    const config = parseClusterConfig(configYaml({ cluster: { ackRetentionMs: 60_000 } }), FILE);
    expect(config.cluster.ackRetentionMs).toBe(60_000);
    expect(() => parseClusterConfig(configYaml({ cluster: { ackRetentionMs: 0 } }), FILE)).toThrow(
      /cluster\.ackRetentionMs/,
    );
  });

  it('refuses a Redis wait longer than a second (commands queued behind it would time out)', () => {
    expect(() => parseClusterConfig(configYaml({ cluster: { redisWaitTimeoutMs: 1001 } }), FILE)).toThrow(
      /cluster\.redisWaitTimeoutMs: at most 1000 ms/,
    );
  });

  it('reads how many Redis replicas a local write waits for, and how long (SPEC §11)', () => {
    const config = parseClusterConfig(
      configYaml({ cluster: { redisWaitReplicas: 2, redisWaitTimeoutMs: 250 } }),
      FILE,
    );
    expect(config.cluster).toMatchObject({ redisWaitReplicas: 2, redisWaitTimeoutMs: 250 });
    expect(parseClusterConfig(configYaml({ cluster: { redisWaitReplicas: 0 } }), FILE).cluster).toEqual(
      CLUSTER_DEFAULTS,
    );
  });

  it('accepts two public keys while a new one rolls out (SPEC §9)', () => {
    const [a, b] = [makeSiteKeys().publicKey, makeSiteKeys().publicKey];
    const config = parseClusterConfig(configYaml({ sites: [{ ...master, publicKey: [a, b] }] }), FILE);
    expect(config.sites[0].publicKeys).toEqual([a, b]);
  });

  it('normalises admin token hashes to lowercase and ["*"] to "*"', () => {
    const hash = sha256Hex('secret');
    const config = parseClusterConfig(
      configYaml({
        admins: [
          { name: 'ops', tokenSha256: hash.toUpperCase(), scope: ['*'] },
          { name: 'acme-admin', token: 'other', scope: ['acme', 'sales.globex'] },
        ],
      }),
      FILE,
    );
    expect(config.admins).toEqual([
      { name: 'ops', tokenSha256: hash, scope: '*' },
      { name: 'acme-admin', tokenSha256: sha256Hex('other'), scope: ['acme', 'sales.globex'] },
    ]);
  });

  it('reads rate limits, for every admin token and per admin, and leaves them out when not given (SPEC §5)', () => {
    const config = parseClusterConfig(
      configYaml({
        cluster: { rateLimit: { max: 100, windowMs: 60_000 } },
        admins: [
          { name: 'ops', token: 'a', scope: '*' },
          { name: 'ci', token: 'b', scope: '*', rateLimit: { max: 5000, windowMs: 1000 } },
        ],
      }),
      FILE,
    );
    expect(config.cluster.rateLimit).toEqual({ max: 100, windowMs: 60_000 });
    expect(config.admins.map((a) => a.rateLimit)).toEqual([undefined, { max: 5000, windowMs: 1000 }]);
    const plain = parseClusterConfig(configYaml({ admins: [{ name: 'ops', token: 'a', scope: '*' }] }), FILE);
    expect('rateLimit' in plain.cluster).toBe(false);
    expect('rateLimit' in plain.admins[0]).toBe(false);
  });

  it('returns a frozen config, since its zone index is cached per object', () => {
    const config = parseClusterConfig(configYaml({ zones: [{ domain: 'acme', sites: ['site-a'] }] }), FILE);
    expect(Object.isFrozen(config.zones[0].sites)).toBe(true);
  });

  const cases: { refuses: string; text: () => string; key: string; says: RegExp }[] = [
    { refuses: 'bad YAML', text: () => 'sites: [a,\n b: 1\n', key: '(yaml)', says: /line 3/ },
    { refuses: 'a duplicated YAML key', text: () => 'sites: []\nsites: []\n', key: '(yaml)', says: /unique/ },
    { refuses: 'an empty file', text: () => '', key: '(root)', says: /expected a mapping/ },
    {
      refuses: 'an unknown top-level key',
      text: () => `${configYaml()}zone:\n  - domain: acme\n`,
      key: 'zone',
      says: /unknown key/,
    },
    { refuses: 'a file without sites', text: () => 'masterDomain: master\n', key: 'sites', says: /required/ },
    { refuses: 'an empty site list', text: () => 'sites: []\n', key: 'sites', says: /non-empty list/ },
    {
      refuses: 'no master',
      text: () => configYaml({ sites: [{ id: 'site-a' }, { id: 'site-b' }] }),
      key: 'sites',
      says: /no master/,
    },
    {
      refuses: 'two masters',
      text: () => configYaml({ sites: [master, { id: 'site-a' }, { id: 'other', role: 'master' }] }),
      key: 'sites[2].role',
      says: /two masters: sites\[0\] and sites\[2\]/,
    },
    {
      refuses: 'an unknown role',
      text: () => configYaml({ sites: [master, { id: 'site-a', role: 'worker' as 'site' }] }),
      key: 'sites[1].role',
      says: /'master' or 'site'/,
    },
    {
      refuses: 'duplicate site ids',
      text: () => configYaml({ sites: [master, { id: 'site-a' }, { id: 'site-a' }] }),
      key: 'sites[2].id',
      says: /duplicate 'site-a' \(also sites\[1\]\.id\)/,
    },
    {
      refuses: 'a malformed site id',
      text: () => configYaml({ sites: [master, { id: 'Site_A' }] }),
      key: 'sites[1].id',
      says: /not a valid site id/,
    },
    {
      refuses: 'a site URL that is not http(s)',
      text: () => configYaml({ sites: [master, { id: 'site-a', url: 'ftp://h' }] }),
      key: 'sites[1].url',
      says: /not a valid http\(s\) URL/,
    },
    {
      refuses: 'a site URL that is no URL',
      text: () => configYaml({ sites: [master, { id: 'site-a', url: '127.0.0.1:4001' }] }),
      key: 'sites[1].url',
      says: /not a valid http\(s\) URL/,
    },
    {
      refuses: 'a public key that is not PEM',
      text: () => configYaml({ sites: [master, { id: 'site-a', publicKey: 'MCowBQYDK2VwAyEA' }] }),
      key: 'sites[1].publicKey',
      says: /^not a valid Ed25519 public key \(PEM\)$/,
    },
    {
      refuses: 'an RSA public key',
      text: () => configYaml({ sites: [master, { id: 'site-a', publicKey: rsaPublicKey }] }),
      key: 'sites[1].publicKey',
      says: /found a rsa key/,
    },
    {
      refuses: 'an EC public key in a rotation list',
      text: () => configYaml({ sites: [{ ...master, publicKey: [makeSiteKeys().publicKey, ecPublicKey] }] }),
      key: 'sites[0].publicKey[1]',
      says: /found a ec key/,
    },
    {
      refuses: 'a private key in place of a public key',
      text: () => configYaml({ sites: [{ ...master, publicKey: makeSiteKeys().privateKey }] }),
      key: 'sites[0].publicKey',
      says: /private key/,
    },
    {
      refuses: 'three public keys',
      text: () => {
        const keys = [1, 2, 3].map(() => makeSiteKeys().publicKey);
        return configYaml({ sites: [{ ...master, publicKey: keys }] });
      },
      key: 'sites[0].publicKey',
      says: /a list of 1 to 2/,
    },
    {
      refuses: 'an unknown key in a site',
      text: () => configYaml().replace('role: master', 'role: master\n    region: eu'),
      key: 'sites[0].region',
      says: /unknown key \(expected one of: id, role, url, publicKey\)/,
    },
    {
      refuses: 'an unknown site in a zone',
      text: () =>
        configYaml({
          zones: [
            { domain: 'acme', sites: ['site-a'] },
            { domain: 'globex', sites: ['site-a'] },
            { domain: 'initech', sites: ['site-c'] },
          ],
        }),
      key: 'zones[2].sites[0]',
      says: /unknown site 'site-c'/,
    },
    {
      refuses: 'a zone without sites',
      text: () => configYaml({ zones: [{ domain: 'acme', sites: [] }] }),
      key: 'zones[0].sites',
      says: /non-empty list/,
    },
    {
      refuses: 'a bad zone domain',
      text: () => configYaml({ zones: [{ domain: 'Acme.com', sites: ['site-a'] }] }),
      key: 'zones[0].domain',
      says: /not a valid domain name/,
    },
    {
      refuses: 'a zone domain with an empty label',
      text: () => configYaml({ zones: [{ domain: 'sales..acme', sites: ['site-a'] }] }),
      key: 'zones[0].domain',
      says: /not a valid domain name/,
    },
    {
      refuses: 'a zone domain over 253 characters',
      text: () => configYaml({ zones: [{ domain: Array(64).fill('abc').join('.'), sites: ['site-a'] }] }),
      key: 'zones[0].domain',
      says: /at most 253/,
    },
    {
      refuses: 'duplicate zone domains',
      text: () =>
        configYaml({
          zones: [
            { domain: 'acme', sites: ['site-a'] },
            { domain: 'acme', sites: ['site-b'] },
          ],
        }),
      key: 'zones[1].domain',
      says: /duplicate 'acme'/,
    },
    {
      refuses: 'a zone on the master domain',
      text: () => configYaml({ zones: [{ domain: 'master', sites: ['site-a'] }] }),
      key: 'zones[0].domain',
      says: /within the master domain/,
    },
    {
      refuses: 'a zone inside the master domain',
      text: () => configYaml({ masterDomain: 'hq', zones: [{ domain: 'eu.hq', sites: ['site-a'] }] }),
      key: 'zones[0].domain',
      says: /within the master domain 'hq'/,
    },
    {
      refuses: 'a multi-label master domain',
      text: () => configYaml({ masterDomain: 'master.example' }),
      key: 'masterDomain',
      says: /first-level domain/,
    },
    {
      refuses: 'a bad token hash',
      text: () => configYaml({ admins: [{ name: 'ops', tokenSha256: 'abc123', scope: '*' }] }),
      key: 'admins[0].tokenSha256',
      says: /not a valid SHA-256/,
    },
    {
      refuses: 'a bad scope',
      text: () => configYaml({ admins: [{ name: 'ops', scope: ['acme', 'Not A Domain'] }] }),
      key: 'admins[0].scope[1]',
      says: /not a valid domain name/,
    },
    {
      refuses: 'a scope mixing "*" with domains',
      text: () => configYaml({ admins: [{ name: 'ops', scope: ['*', 'acme'] }] }),
      key: 'admins[0].scope',
      says: /list it alone/,
    },
    {
      refuses: 'an empty scope',
      text: () => configYaml({ admins: [{ name: 'ops', scope: [] }] }),
      key: 'admins[0].scope',
      says: /non-empty list/,
    },
    {
      refuses: 'a scope that is a bare domain string',
      text: () => configYaml({ admins: [{ name: 'ops', scope: 'acme' }] }),
      key: 'admins[0].scope',
      says: /"\*" or a list/,
    },
    {
      refuses: 'duplicate admin names',
      text: () =>
        configYaml({
          admins: [
            { name: 'ops', token: 'a', scope: '*' },
            { name: 'ops', token: 'b', scope: '*' },
          ],
        }),
      key: 'admins[1].name',
      says: /duplicate 'ops'/,
    },
    {
      refuses: 'two admins with one token',
      text: () =>
        configYaml({
          admins: [
            { name: 'ops', token: 'same', scope: '*' },
            { name: 'dev', token: 'same', scope: '*' },
          ],
        }),
      key: 'admins[1].tokenSha256',
      says: /duplicate/,
    },
    {
      refuses: 'a zero sync interval',
      text: () => configYaml({ cluster: { syncIntervalMs: 0 } }),
      key: 'cluster.syncIntervalMs',
      says: /positive integer/,
    },
    {
      refuses: 'a fractional queue capacity',
      text: () => configYaml({ cluster: { submitQueueCapacity: 1.5 } }),
      key: 'cluster.submitQueueCapacity',
      says: /positive integer/,
    },
    {
      refuses: 'a tombstone retention given as a string',
      text: () => configYaml().replace(/^/, 'cluster:\n  tombstoneRetentionMs: "7d"\n'),
      key: 'cluster.tombstoneRetentionMs',
      says: /positive integer/,
    },
    {
      refuses: 'a zero zone-move grace',
      text: () => configYaml({ cluster: { zoneMoveGraceMs: 0 } }),
      key: 'cluster.zoneMoveGraceMs',
      says: /positive integer, got number 0/,
    },
    {
      refuses: 'a negative number of Redis replicas to wait for',
      text: () => configYaml({ cluster: { redisWaitReplicas: -1 } }),
      key: 'cluster.redisWaitReplicas',
      says: /integer ≥ 0, got number -1/,
    },
    {
      refuses: 'a zero Redis wait timeout',
      text: () => configYaml({ cluster: { redisWaitTimeoutMs: 0 } }),
      key: 'cluster.redisWaitTimeoutMs',
      says: /positive integer/,
    },
    {
      refuses: 'a negative zone-move grace',
      text: () => configYaml({ cluster: { zoneMoveGraceMs: -1000 } }),
      key: 'cluster.zoneMoveGraceMs',
      says: /positive integer/,
    },
    {
      refuses: 'a zone-move grace given as a string',
      text: () => configYaml().replace(/^/, 'cluster:\n  zoneMoveGraceMs: "7 days"\n'),
      key: 'cluster.zoneMoveGraceMs',
      says: /positive integer, got string "7 days"/,
    },
    {
      refuses: 'a misspelt zone-move grace key',
      text: () => configYaml().replace(/^/, 'cluster:\n  zoneMoveGraceMS: 1000\n'),
      key: 'cluster.zoneMoveGraceMS',
      says: /unknown key \(expected one of: .*zoneMoveGraceMs\b.*\)/,
    },
    {
      refuses: 'a rate limit without a window',
      text: () => configYaml({ cluster: { rateLimit: { max: 10 } as { max: number; windowMs: number } } }),
      key: 'cluster.rateLimit.windowMs',
      says: /required/,
    },
    {
      refuses: 'a rate limit of zero requests',
      text: () => configYaml({ cluster: { rateLimit: { max: 0, windowMs: 1000 } } }),
      key: 'cluster.rateLimit.max',
      says: /positive integer/,
    },
    {
      refuses: 'an unknown key in a rate limit',
      text: () =>
        configYaml({
          cluster: { rateLimit: { max: 1, windowMs: 1000, burst: 5 } as { max: number; windowMs: number } },
        }),
      key: 'cluster.rateLimit.burst',
      says: /unknown key/,
    },
    {
      refuses: 'an admin’s rate limit with a bad window',
      text: () =>
        configYaml({
          admins: [{ name: 'ci', token: 't', scope: '*', rateLimit: { max: 5, windowMs: 1.5 } }],
        }),
      key: 'admins[0].rateLimit.windowMs',
      says: /positive integer/,
    },
  ];

  it.each(cases)('refuses $refuses, naming the file and $key', ({ text, key, says }) => {
    const error = refusal(text());
    expect(error.file).toBe(FILE);
    expect(error.key).toBe(key);
    expect(error.detail).toMatch(says);
    expect(error.message).toBe(`cluster config ${FILE}: ${key}: ${error.detail}`);
  });
});

describe('loadClusterConfig', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cluster-config-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('loads a file from disk', () => {
    const file = join(dir, 'cluster.yml');
    writeFileSync(file, configYaml());
    expect(loadClusterConfig(file).sites.map((site) => site.id)).toEqual(['master', 'site-a', 'site-b']);
  });

  it('refuses a missing file, naming it', () => {
    const file = join(dir, 'absent.yml');
    expect(() => loadClusterConfig(file)).toThrow(`cluster config ${file}: (file): cannot be read`);
  });
});
