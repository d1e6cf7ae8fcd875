import { Injectable, Logger } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { messageOf, MetricsRegistry } from '@dd/admin-api';
import { ClusterStatusService } from './cluster-status.service';

type SiteStatus = Awaited<ReturnType<ClusterStatusService['clusterStatus']>>['sites'][number];

const secondsSince = (at: string | null, now: number) => (at === null ? null : (now - Date.parse(at)) / 1000);

/**
 * SPEC §10: the per-site gauges one scrape alerts on a stale site with, read at scrape time from
 * what /cluster/status shows (one read per scrape, shared by the gauges), labelled by site. A
 * figure a site has not reported yet has no sample; the master reports none.
 */
@Injectable()
export class ClusterGauges {
  private readonly logger = new Logger('ClusterGauges');
  private scrape: Promise<SiteStatus[]> | undefined;

  constructor({ registry }: MetricsRegistry, status: ClusterStatusService) {
    const sites = (): Promise<SiteStatus[]> =>
      (this.scrape ??= status
        .clusterStatus()
        .then(({ sites }) => sites.filter((s) => s.role !== 'master'))
        // /metrics is wanted most in an outage: without the database, these gauges are left out
        .catch((err: unknown) => {
          this.logger.warn({ err }, `cannot read the sites' status for /metrics: ${messageOf(err)}`);
          return [];
        })
        .finally(() => (this.scrape = undefined)));
    const perSite = (name: string, help: string, value: (site: SiteStatus, now: number) => number | null) =>
      new Gauge({
        name,
        help,
        labelNames: ['site'],
        registers: [registry],
        async collect() {
          const now = Date.now();
          this.reset();
          for (const site of await sites()) {
            const v = value(site, now);
            if (v !== null) this.set({ site: site.site }, v);
          }
        },
      });
    perSite('dd_mdc_site_queue_length', 'Queue length the site last reported', (s) => s.queueLength);
    perSite('dd_mdc_site_last_push_age_seconds', 'Seconds since the site last pushed', (s, now) =>
      secondsSince(s.lastPushAt, now),
    );
    perSite('dd_mdc_site_last_resync_age_seconds', 'Seconds since the site last pulled (resync)', (s, now) =>
      secondsSince(s.lastResyncAt, now),
    );
    perSite('dd_mdc_site_lag_versions', "Change-log versions the site's last pull is behind the head", (s) =>
      s.lagVersions === null ? null : Number(s.lagVersions),
    );
  }
}
