import { Injectable, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { ClusterConfigService } from '@dd/admin-api';
import { masterSite } from '@dd/cluster-config';
import { ChangeSignalClient, SiteHttp } from '../remote';
import { SdcMetrics } from '../ops/sdc.metrics';
import type { CycleReport } from './sync-cycle';
import { SyncScheduler } from './sync.scheduler';

/**
 * The site's link to the MDC as `/sync/status` shows it: reachable as of the last cycle, and the
 * change-signal stream (SPEC §8), which makes the site resync at once after a change at the MDC.
 */
@Injectable()
export class MdcLink implements OnApplicationBootstrap, OnModuleDestroy {
  private reachable = false;
  private readonly signal: ChangeSignalClient;

  constructor(http: SiteHttp, config: ClusterConfigService, scheduler: SyncScheduler, metrics: SdcMetrics) {
    this.signal = new ChangeSignalClient({
      http,
      master: () => masterSite(config.current),
      // SPEC §8: the signal carries the MDC's version; a light cycle, skipped if the site is there already
      // — but a whole one when the MDC has its database back (SPEC §11: the head may have moved back).
      onChange: (version, resync) =>
        resync ? scheduler.soon(0) : scheduler.soon(0, { kind: 'signal', version }),
      onConnectedChange: (connected) => {
        metrics.signalConnected.set(connected ? 1 : 0);
        // After an outage, catch up at once rather than at the next period.
        if (connected) scheduler.soon();
      },
    });
  }

  get mdcReachable(): boolean {
    return this.reachable;
  }

  get signalConnected(): boolean {
    return this.signal.connected;
  }

  noteCycle(report: CycleReport): void {
    this.reachable = report.ok || report.error !== 'mdc_unreachable';
  }

  onApplicationBootstrap(): void {
    this.signal.start();
  }

  onModuleDestroy(): Promise<void> {
    return this.signal.stop();
  }
}
