import { ClusterConfig, SiteConfig } from './cluster-config.model';

/**
 * SPEC §4: "A domain is served by the sites of the most specific zone that contains it; a domain in
 * no zone is served by the master site only." Asked on every request (proxy decisions, scopes), so
 * each config object is indexed once and a lookup walks only the name's suffixes.
 */
interface ZoneIndex {
  /** zone root (and the master domain) → the sites that serve it and its descendants */
  servingByRoot: Map<string, string[]>;
  masterOnly: string[];
  master: SiteConfig;
  siteById: Map<string, SiteConfig>;
  zonesBySite: Map<string, string[]>;
}

const indexes = new WeakMap<ClusterConfig, ZoneIndex>();

function buildIndex(config: ClusterConfig): ZoneIndex {
  const master = config.sites.find((site) => site.role === 'master');
  if (master === undefined) throw new Error('cluster config has no master site');
  const masterOnly = Object.freeze([master.id]) as string[];

  const servingByRoot = new Map<string, string[]>();
  const zonesBySite = new Map<string, string[]>();
  for (const zone of config.zones) {
    servingByRoot.set(zone.domain, zone.sites);
    for (const id of zone.sites) zonesBySite.set(id, [...(zonesBySite.get(id) ?? []), zone.domain]);
  }
  // SPEC §3: the master domain is served only at the master site; set last so nothing overrides it.
  servingByRoot.set(config.masterDomain, masterOnly);

  return {
    servingByRoot,
    masterOnly,
    master,
    siteById: new Map(config.sites.map((site) => [site.id, site])),
    zonesBySite,
  };
}

function indexOf(config: ClusterConfig): ZoneIndex {
  let index = indexes.get(config);
  if (index === undefined) {
    index = buildIndex(config);
    indexes.set(config, index);
  }
  return index;
}

/** The ids of the sites that serve `domainName`, in config order. Do not mutate the result. */
export function servingSites(config: ClusterConfig, domainName: string): string[] {
  const { servingByRoot, masterOnly } = indexOf(config);
  // From the name itself up to its first-level ancestor: the first zone root met is the most specific.
  let suffix = domainName;
  for (;;) {
    const sites = servingByRoot.get(suffix);
    if (sites !== undefined) return sites;
    const dot = suffix.indexOf('.');
    if (dot < 0) return masterOnly;
    suffix = suffix.slice(dot + 1);
  }
}

export function siteServes(config: ClusterConfig, siteId: string, domainName: string): boolean {
  return servingSites(config, domainName).includes(siteId);
}

export function masterSite(config: ClusterConfig): SiteConfig {
  return indexOf(config).master;
}

export function siteById(config: ClusterConfig, id: string): SiteConfig | undefined {
  return indexOf(config).siteById.get(id);
}

/** The zone roots assigned to a site (not the master domain, which is no zone). */
export function zonesOf(config: ClusterConfig, siteId: string): string[] {
  return [...(indexOf(config).zonesBySite.get(siteId) ?? [])];
}
