import { createPrivateKey, KeyObject } from 'node:crypto';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configYaml, ConfigYamlOptions, makeSiteKeys } from '../../libs/cluster-config/src/testing';

/** every port `freePort` has handed out in this process: a site may hold it, or take it back later */
const handedOut = new Set<number>();

/**
 * A free loopback port, as the OS hands it out — never one this process was handed before. The OS
 * may hand out a port it just handed out (`listen(0)` picks at random among the free ones), and two
 * sites of one cluster on one port is a cluster whose second site never started: CI once saw an
 * SDC's admin calls answered by its MDC.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await osFreePort();
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

function osFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface TestSite {
  id: string;
  role: 'master' | 'site';
  port: number;
  url: string;
  keyFile: string;
  privateKey: KeyObject;
  publicKeyPem: string;
}

export interface TestAdmin {
  name: string;
  token: string;
  scope: '*' | string[];
  /** SPEC §5: this admin's own request limit */
  rateLimit?: { max: number; windowMs: number };
}

export interface ClusterFilesOptions {
  /** site ids; the first is the master. Default: master, site-a, site-b */
  sites?: string[];
  zones?: Array<{ domain: string; sites: string[] }>;
  /** extra admins beside `ops` (scope *) */
  admins?: TestAdmin[];
  cluster?: ConfigYamlOptions['cluster'];
}

/**
 * A cluster's files in a temp dir: one key pair per site, loopback ports, and the config file
 * (rewritten by rename, as configuration tools do).
 */
export class ClusterFiles {
  readonly dir = mkdtempSync(join(tmpdir(), 'dd-cluster-'));
  readonly configFile = join(this.dir, 'cluster.yml');
  readonly sites: TestSite[] = [];
  readonly admins: TestAdmin[];
  private options: ClusterFilesOptions;
  /** sites that read a copy of their own: site id → the peer URLs their copy lists instead */
  private readonly ownConfigs = new Map<string, Record<string, string>>();

  private constructor(options: ClusterFilesOptions) {
    this.options = options;
    this.admins = [{ name: 'ops', token: 'ops-token', scope: '*' }, ...(options.admins ?? [])];
  }

  static async create(options: ClusterFilesOptions = {}): Promise<ClusterFiles> {
    const files = new ClusterFiles(options);
    const ids = options.sites ?? ['master', 'site-a', 'site-b'];
    for (const [i, id] of ids.entries()) {
      const keys = makeSiteKeys();
      const keyFile = join(files.dir, `${id}.key`);
      writeFileSync(keyFile, keys.privateKey, { mode: 0o600 });
      const port = await freePort();
      files.sites.push({
        id,
        role: i === 0 ? 'master' : 'site',
        port,
        url: `http://127.0.0.1:${port}`,
        keyFile,
        privateKey: createPrivateKey(keys.privateKey),
        publicKeyPem: keys.publicKey,
      });
    }
    files.write();
    return files;
  }

  get token(): string {
    return this.admins[0].token;
  }

  site(id: string): TestSite {
    const site = this.sites.find((s) => s.id === id);
    if (!site) throw new Error(`no test site ${id}`);
    return site;
  }

  get master(): TestSite {
    return this.sites[0];
  }

  /** The config text for these sites with the given changes (and site URLs replaced, by site id). */
  yaml(changes: Partial<ClusterFilesOptions> = {}, urlOverrides: Record<string, string> = {}): string {
    const options = { ...this.options, ...changes };
    return configYaml({
      sites: this.sites.map((s) => ({
        id: s.id,
        role: s.role,
        url: urlOverrides[s.id] ?? s.url,
        publicKey: s.publicKeyPem,
      })),
      zones: options.zones ?? [],
      admins: [{ name: 'ops', token: 'ops-token', scope: '*' }, ...(options.admins ?? [])].map((a) => ({
        name: a.name,
        token: a.token,
        scope: a.scope,
        rateLimit: 'rateLimit' in a ? a.rateLimit : undefined,
      })),
      cluster: options.cluster,
    });
  }

  /**
   * Makes `siteId` read a copy of its own in which the given sites' URLs are replaced (SPEC §4: a
   * site may list its own address for a peer — a tunnel to the master, say). Takes effect for
   * processes started after it (`env(siteId)`); later writes keep the overrides. Returns the path.
   */
  useOwnConfig(siteId: string, urlOverrides: Record<string, string>): string {
    this.site(siteId);
    for (const id of Object.keys(urlOverrides)) this.site(id);
    this.ownConfigs.set(siteId, { ...urlOverrides });
    const file = this.configFileOf(siteId);
    replaceFile(file, this.yaml({}, urlOverrides));
    return file;
  }

  /** The config file `siteId` reads: its own copy if it has one, else the shared file. */
  configFileOf(siteId: string): string {
    return this.ownConfigs.has(siteId) ? join(this.dir, `cluster.${siteId}.yml`) : this.configFile;
  }

  /**
   * Replaces the config file — and every site's own copy, with its overrides — by a rename
   * (SPEC §4: a running site picks it up within 1 s).
   */
  write(changes: Partial<ClusterFilesOptions> = {}): void {
    replaceFile(this.configFile, this.yaml(changes));
    for (const [siteId, overrides] of this.ownConfigs) {
      replaceFile(this.configFileOf(siteId), this.yaml(changes, overrides));
    }
    this.options = { ...this.options, ...changes };
  }

  /**
   * Writes this text as the config file, and as every own copy with its overridden sites' URLs
   * replaced wherever they occur in the text (so a broken file stays broken in every copy).
   */
  writeText(text: string): void {
    replaceFile(this.configFile, text);
    for (const [siteId, overrides] of this.ownConfigs) {
      let copy = text;
      for (const [id, url] of Object.entries(overrides)) copy = copy.split(this.site(id).url).join(url);
      replaceFile(this.configFileOf(siteId), copy);
    }
  }

  /** Writes this text as the config file of `siteId` alone (its own copy, or the shared file). */
  writeTextFor(siteId: string, text: string): void {
    replaceFile(this.configFileOf(siteId), text);
  }

  env(siteId: string): Record<string, string> {
    const site = this.site(siteId);
    return {
      SITE_ID: site.id,
      CLUSTER_CONFIG: this.configFileOf(siteId),
      PORT: String(site.port),
      SITE_KEY_FILE: site.keyFile,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
      HOST: '127.0.0.1',
    };
  }
}

/** Replaces a file by a rename, as configuration tools do. */
function replaceFile(file: string, text: string): void {
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, text);
  renameSync(temp, file);
}
