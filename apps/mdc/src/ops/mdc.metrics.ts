import { Injectable } from '@nestjs/common';
import { Counter, Histogram } from 'prom-client';
import { MetricsRegistry } from '@dd/admin-api';

/** SPEC §10: the MDC's own series. */
@Injectable()
export class MdcMetrics {
  readonly changesApplied: Counter;
  readonly pushedChanges: Counter<'site' | 'verdict'>;
  readonly pullRequests: Counter<'site'>;
  readonly pushDuration: Histogram;

  constructor({ registry }: MetricsRegistry) {
    this.changesApplied = new Counter({
      name: 'dd_mdc_changes_applied_total',
      help: 'Changes applied to DomainDB',
      registers: [registry],
    });
    this.pushedChanges = new Counter({
      name: 'dd_mdc_pushed_changes_total',
      help: 'Changes pushed by sites, by verdict (applied, rejected, replayed, gap)',
      labelNames: ['site', 'verdict'],
      registers: [registry],
    });
    this.pullRequests = new Counter({
      name: 'dd_mdc_pull_requests_total',
      help: 'Pull requests served, by site',
      labelNames: ['site'],
      registers: [registry],
    });
    this.pushDuration = new Histogram({
      name: 'dd_mdc_push_batch_seconds',
      help: 'Time to apply one pushed batch',
      registers: [registry],
    });
  }
}
