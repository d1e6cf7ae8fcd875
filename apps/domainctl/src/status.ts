import { ago, table } from './tables';

/** One site of the MDC's `GET /cluster/status` (SPEC §5, §10). */
export interface ClusterSite {
  site: string;
  role: 'master' | 'site';
  url: string;
  lastPushAt: string | null;
  lastResyncAt: string | null;
  queueLength: number | null;
  lagVersions: string | null;
  lagMs: number | null;
  stale: boolean;
}

export interface ClusterStatus {
  head: string;
  staleAfterMs: number;
  sites: ClusterSite[];
}

/** The part of a site's own `GET /sync/status` (SPEC §5) that `status` shows. */
export interface SyncStatus {
  mdcReachable: boolean;
  queue: { length: number };
  servedZones: string[];
}

/**
 * A site as `domainctl status` shows it: the MDC's view, plus the site's own `/sync/status` as it
 * answered — or null, and why, when it could not be asked.
 */
export interface SiteView extends ClusterSite {
  syncStatus: SyncStatus | null;
  syncStatusError?: string;
}

/**
 * Where `status` asks a site for its own `/sync/status`: the URL given with `--probe-url site=url`
 * (the config's URL may not resolve where the CLI runs, e.g. compose service names from the host);
 * else, for the master, `--site` itself (the CLI reached it there); else the URL of the config.
 */
export function probeUrl(site: ClusterSite, cliSite: string, overrides: Record<string, string>): string {
  return overrides[site.site] ?? (site.role === 'master' ? cliSite : site.url);
}

/** Exit 1 when the MDC calls any site stale (SPEC §10, like `repadmin /replsummary`). */
export function staleSites(sites: ClusterSite[]): string[] {
  return sites.filter((s) => s.stale).map((s) => s.site);
}

/**
 * The status table: zones and MDC reachability come from the site itself (`?` when it could not be
 * asked); the queue from the site when it answered, else what it last reported to the MDC.
 */
export function statusTable(sites: SiteView[], now: number): string {
  return table(
    ['SITE', 'ROLE', 'ZONES', 'QUEUE', 'LAST PUSH', 'LAST RESYNC', 'LAG', 'MDC', 'STALE'],
    sites.map((s) => {
      const own = s.syncStatus;
      const master = s.role === 'master';
      return [
        s.site,
        s.role,
        own ? own.servedZones.join(',') || '-' : master ? '*' : '?',
        own ? own.queue.length : (s.queueLength ?? '-'),
        master ? '-' : ago(s.lastPushAt, now),
        master ? '-' : ago(s.lastResyncAt, now),
        master ? '-' : s.lagVersions === null ? '-' : `${s.lagVersions} versions`,
        master ? 'self' : own ? (own.mdcReachable ? 'reachable' : 'UNREACHABLE') : '?',
        s.stale ? 'STALE' : 'no',
      ];
    }),
  );
}

/** The lines under the table: the verdict, and the sites that could not be asked. */
export function statusSummary(status: ClusterStatus, sites: SiteView[], now: number): string[] {
  const lines = sites
    .filter((s) => !s.syncStatus)
    .map((s) => `note: ${s.site} did not answer /sync/status (${s.syncStatusError})`);
  const stale = sites.filter((s) => s.stale);
  const limit = `${Math.round(status.staleAfterMs / 1000)}s`;
  if (stale.length === 0)
    lines.push(`all ${sites.length} sites in sync (stale after ${limit} without contact)`);
  for (const s of stale) {
    const last = [s.lastPushAt, s.lastResyncAt]
      .filter((at): at is string => !!at)
      .sort()
      .pop();
    lines.push(
      `STALE ${s.site}: last contact with the MDC ${last ? ago(last, now) : 'never'} (stale after ${limit})`,
    );
  }
  return lines;
}
