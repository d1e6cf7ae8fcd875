import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { configYaml, ConfigYamlOptions, makeSiteKeys } from '../../libs/cluster-config/src/testing';
import { loadPrivateKey } from '@dd/site-auth';
import {
  DEFAULT_DATABASE_QUERY_TIMEOUT_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  type SiteEnv,
} from '../../libs/admin-api/src/site-env';

export interface SiteConfigFile {
  file: string;
  /** a site's private key, for signing calls as that site */
  privateKey(site: string): KeyObject;
}

/** A cluster config file in a temporary folder, for a provider test's real ClusterConfigService. */
export function writeSiteConfig(
  options: ConfigYamlOptions & { sites: NonNullable<ConfigYamlOptions['sites']> },
): SiteConfigFile {
  const keys = new Map(options.sites.map((site) => [site.id, makeSiteKeys()]));
  const sites = options.sites.map((site) => ({ ...site, publicKey: keys.get(site.id)!.publicKey }));
  const file = join(mkdtempSync(join(tmpdir(), 'dd-config-')), 'cluster.yml');
  writeFileSync(file, configYaml({ ...options, sites }));
  return { file, privateKey: (site) => loadPrivateKey(keys.get(site)!.privateKey) };
}

/** The environment of a site process under test (SPEC §4), reading `configFile`. */
export function siteEnv(siteId: string, configFile: string, more: Partial<SiteEnv> = {}): SiteEnv {
  return {
    siteId,
    configFile,
    port: 0,
    siteKeyFile: undefined,
    logLevel: 'silent',
    syncIntervalMs: undefined,
    snapshotPage: undefined,
    databaseUrl: undefined,
    databaseQueryTimeoutMs: DEFAULT_DATABASE_QUERY_TIMEOUT_MS,
    redisUrl: undefined,
    requestTimeoutMs: DEFAULT_REQUEST_TIMEOUT_MS,
    trafficDir: undefined,
    ...more,
  };
}
