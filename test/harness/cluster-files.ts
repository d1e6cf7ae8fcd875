import { createPrivateKey, KeyObject } from 'node:crypto';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configYaml, ConfigYamlOptions, makeSiteKeys } from '../../libs/cluster-config/src/testing';

/** A free loopback port, as the OS hands it out. */
export function freePort(): Promise<number> {
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

  /** The config text for these sites with the given changes. */
  yaml(changes: Partial<ClusterFilesOptions> = {}): string {
    const options = { ...this.options, ...changes };
    return configYaml({
      sites: this.sites.map((s) => ({ id: s.id, role: s.role, url: s.url, publicKey: s.publicKeyPem })),
      zones: options.zones ?? [],
      admins: [{ name: 'ops', token: 'ops-token', scope: '*' }, ...(options.admins ?? [])].map((a) => ({
        name: a.name,
        token: a.token,
        scope: a.scope,
      })),
      cluster: options.cluster,
    });
  }

  /** Replaces the config file by a rename (SPEC §4: a running site picks it up within 1 s). */
  write(changes: Partial<ClusterFilesOptions> = {}): void {
    this.writeText(this.yaml(changes));
    this.options = { ...this.options, ...changes };
  }

  writeText(text: string): void {
    const temp = `${this.configFile}.${process.pid}.tmp`;
    writeFileSync(temp, text);
    renameSync(temp, this.configFile);
  }

  env(siteId: string): Record<string, string> {
    const site = this.site(siteId);
    return {
      SITE_ID: site.id,
      CLUSTER_CONFIG: this.configFile,
      PORT: String(site.port),
      SITE_KEY_FILE: site.keyFile,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
      HOST: '127.0.0.1',
    };
  }
}
