import { ClusterConfig, siteServes } from '@dd/cluster-config';

/**
 * SPEC §1, §8: what a site caches — the domains the config assigns to it, plus the read-only
 * master domain (its settings and entities, not its children). Everything else it knows by name only.
 */
export function inSiteScope(config: ClusterConfig, site: string, domainName: string): boolean {
  return domainName === config.masterDomain || siteServes(config, site, domainName);
}
