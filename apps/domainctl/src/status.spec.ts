import {
  ClusterSite,
  ClusterStatus,
  probeUrl,
  SiteView,
  staleSites,
  statusSummary,
  statusTable,
} from './status';

const NOW = Date.parse('2026-01-01T12:00:00.000Z');
const ago = (ms: number) => new Date(NOW - ms).toISOString();

function site(id: string, over: Partial<ClusterSite> = {}): ClusterSite {
  return {
    site: id,
    role: 'site',
    url: `http://${id}`,
    lastPushAt: null,
    lastResyncAt: ago(1000),
    queueLength: 0,
    lagVersions: '0',
    lagMs: 1000,
    stale: false,
    ...over,
  };
}

const reachable = {
  ok: true as const,
  mdcReachable: true,
  queue: { length: 2 },
  servedZones: ['acme', 'globex'],
};

describe('domainctl status (SPEC §10)', () => {
  const master = site('master', { role: 'master', lastResyncAt: null, lagVersions: null });
  const siteA = site('site-a');
  const siteB = site('site-b', { stale: true, lastResyncAt: ago(60_000), lastPushAt: ago(90_000) });
  const status: ClusterStatus = { head: '42', staleAfterMs: 7000, sites: [master, siteA, siteB] };
  const views: SiteView[] = [
    { ...master, syncStatus: { ...reachable, servedZones: ['*'] } },
    { ...siteA, syncStatus: reachable },
    { ...siteB, syncStatus: null, syncStatusError: 'cannot reach http://site-b: ECONNREFUSED' },
  ];

  it('names the sites the MDC calls stale, none when every site is in sync', () => {
    expect(staleSites(status.sites)).toEqual(['site-b']);
    expect(staleSites([master, siteA])).toEqual([]);
  });

  it("prints every site: the site's own zones, queue and MDC reachability, '?' when it did not answer", () => {
    const [head, ...rows] = statusTable(views, NOW).split('\n');
    expect(head.split(/\s{2,}/)).toEqual([
      'SITE',
      'ROLE',
      'ZONES',
      'QUEUE',
      'LAST PUSH',
      'LAST RESYNC',
      'LAG',
      'MDC',
      'STALE',
    ]);
    expect(rows.map((r) => r.split(/\s{2,}/))).toEqual([
      ['master', 'master', '*', '2', '-', '-', '-', 'self', 'no'],
      ['site-a', 'site', 'acme,globex', '2', 'never', '1s ago', '0 versions', 'reachable', 'no'],
      ['site-b', 'site', '?', '0', '1m30s ago', '1m0s ago', '0 versions', '?', 'STALE'],
    ]);
  });

  it('ends with the stale sites and their last contact, or says all are in sync', () => {
    expect(statusSummary(status, views, NOW)).toEqual([
      'note: site-b did not answer /sync/status (cannot reach http://site-b: ECONNREFUSED)',
      'STALE site-b: last contact with the MDC 1m0s ago (stale after 7s)',
    ]);
    expect(statusSummary({ ...status, sites: [master, siteA] }, views.slice(0, 2), NOW)).toEqual([
      'all 2 sites in sync (stale after 7s without contact)',
    ]);
  });

  it("asks the master at --site, a work site at the config's URL, and any site at its --probe-url", () => {
    const cli = 'http://127.0.0.1:4000';
    const mdc = site('master', { role: 'master', url: 'http://mdc:4000' });
    const a = site('site-a', { url: 'http://sdc-a:4000' });
    expect(probeUrl(mdc, cli, {})).toBe(cli);
    expect(probeUrl(a, cli, {})).toBe('http://sdc-a:4000');
    const overrides = { 'site-a': 'http://127.0.0.1:4001', master: 'http://127.0.0.1:5000' };
    expect(probeUrl(a, cli, overrides)).toBe('http://127.0.0.1:4001');
    expect(probeUrl(mdc, cli, overrides)).toBe('http://127.0.0.1:5000');
  });
});
