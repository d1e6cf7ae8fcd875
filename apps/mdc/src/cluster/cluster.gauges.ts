import { Injectable, Logger } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { messageOf, MetricsRegistry } from '@dd/admin-api';
import { ClusterStatusService } from './cluster-status.service';

type SiteStatus = Awaited<ReturnType<ClusterStatusService['clusterStatus']>>['sites'][number];
type Scrape = { now: number; sites: SiteStatus[] };

/** A scrape never waits longer than this for the database: a hung one leaves these gauges out. */
export const GAUGE_READ_MS = 1000;

const secondsSince = (at: string | null, now: number) => (at === null ? null : (now - Date.parse(at)) / 1000);

/**
 * SPEC §10: the per-site gauges one scrape alerts on a stale site with, read at scrape time from
 * what /cluster/status shows (one read per scrape, shared by the gauges), labelled by site. A
 * figure a site has not reported yet has no sample; the master reports none.
 */
@Injectable()
export class ClusterGauges {
  private readonly logger = new Logger('ClusterGauges');
  private scrape: Promise<Scrape> | undefined;

  constructor({ registry }: MetricsRegistry, status: ClusterStatusService) {
    const read = async (): Promise<Scrape> => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer in ${GAUGE_READ_MS} ms`)), GAUGE_READ_MS);
      });
      try {
        const { now, status: answer } = await Promise.race([status.clusterStatusAt(), late]);
        return { now, sites: answer.sites.filter((s) => s.role !== 'master') };
      } finally {
        clearTimeout(timer);
      }
    };
    const scrape = (): Promise<Scrape> =>
      (this.scrape ??= read()
        // /metrics is wanted most in an outage: without the database (down or hung), these gauges are left out
        .catch((err: unknown) => {
          this.logger.warn({ err }, `cannot read the sites' status for /metrics: ${messageOf(err)}`);
          return { now: 0, sites: [] };
        })
        .finally(() => (this.scrape = undefined)));
    const perSite = (name: string, help: string, value: (site: SiteStatus, now: number) => number | null) =>
      new Gauge({
        name,
        help,
        labelNames: ['site'],
        registers: [registry],
        async collect() {
          // ages on the database's clock, as /cluster/status measures them
          const { now, sites } = await scrape();
          this.reset();
          for (const site of sites) {
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
