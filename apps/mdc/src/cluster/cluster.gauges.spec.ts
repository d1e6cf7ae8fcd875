import { Registry } from 'prom-client';
import type { MetricsRegistry } from '@dd/admin-api';
import { ClusterGauges, GAUGE_READ_MS } from './cluster.gauges';
import type { ClusterStatusService } from './cluster-status.service';

/** SPEC §10: the MDC's per-site gauges, read at scrape time — on the database's clock, never waiting on a hung one. */
describe('ClusterGauges', () => {
  const site = (lastPushAt: string | null) => ({
    site: 'site-a',
    role: 'work',
    queueLength: 3,
    lastPushAt,
    lastResyncAt: null,
    lagVersions: '7',
  });

  function gauges(clusterStatusAt: () => Promise<unknown>): Registry {
    const registry = new Registry();
    new ClusterGauges(
      { registry } as MetricsRegistry,
      { clusterStatusAt } as unknown as ClusterStatusService,
    );
    return registry;
  }

  it("measures ages on the clock the status was read at (the database's), not this host's", async () => {
    const dbNow = Date.parse('2026-01-01T00:01:00Z');
    const registry = gauges(async () => ({ now: dbNow, status: { sites: [site('2026-01-01T00:00:00Z')] } }));
    const text = await registry.metrics();
    expect(text).toContain('dd_mdc_site_last_push_age_seconds{site="site-a"} 60');
    expect(text).toContain('dd_mdc_site_queue_length{site="site-a"} 3');
    expect(text).toContain('dd_mdc_site_lag_versions{site="site-a"} 7');
  });

  it('leaves the gauges out rather than wait on a database that does not answer', async () => {
    const registry = gauges(() => new Promise(() => undefined));
    const started = Date.now();
    const text = await registry.metrics();
    expect(Date.now() - started).toBeLessThan(GAUGE_READ_MS + 2000);
    expect(text).not.toContain('dd_mdc_site_queue_length{');
  });
});
