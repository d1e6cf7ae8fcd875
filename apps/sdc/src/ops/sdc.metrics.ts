import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram } from 'prom-client';
import { MetricsRegistry } from '@dd/admin-api';

/** What a finished sync cycle counts (SyncCycle's report). */
export interface CycleFigures {
  ok: boolean;
  error: string | null;
  durationMs: number;
  pushed: number;
  rejected: number;
  pulled: number;
  repaired: number;
}

/** SPEC §10: a site's own series. Queue gauges are read from Redis at scrape time. */
@Injectable()
export class SdcMetrics {
  readonly cycleDuration: Histogram;
  readonly pushed: Counter;
  readonly rejected: Counter;
  readonly pulled: Counter;
  readonly repaired: Counter;
  readonly cycleFailures: Counter<'error'>;
  readonly lastSuccess: Gauge;
  readonly signalConnected: Gauge;
  readonly proxyCalls: Counter<'target' | 'outcome'>;
  readonly proxyLatency: Histogram;
  readonly unconfirmedWrites: Counter;
  readonly queueLength: Gauge;
  readonly queueOldestAge: Gauge;

  constructor({ registry }: MetricsRegistry) {
    const registers = [registry];
    this.cycleDuration = new Histogram({
      name: 'dd_sdc_cycle_seconds',
      help: 'Sync cycle duration',
      registers,
    });
    this.pushed = new Counter({
      name: 'dd_sdc_pushed_total',
      help: 'Queued changes the MDC applied',
      registers,
    });
    this.rejected = new Counter({
      name: 'dd_sdc_rejected_total',
      help: 'Queued changes the MDC refused',
      registers,
    });
    this.pulled = new Counter({
      name: 'dd_sdc_pulled_total',
      help: 'Objects pulled from the MDC',
      registers,
    });
    this.repaired = new Counter({
      name: 'dd_sdc_repaired_total',
      help: 'Domains repaired after a manifest check',
      registers,
    });
    this.cycleFailures = new Counter({
      name: 'dd_sdc_cycle_failures_total',
      help: 'Cycles that failed, by error',
      labelNames: ['error'],
      registers,
    });
    this.lastSuccess = new Gauge({
      name: 'dd_sdc_last_successful_sync_timestamp_seconds',
      help: 'When the last cycle succeeded (unix seconds); age = now - this',
      registers,
    });
    this.signalConnected = new Gauge({
      name: 'dd_sdc_signal_connected',
      help: '1 while the change signal stream is open',
      registers,
    });
    this.proxyCalls = new Counter({
      name: 'dd_sdc_proxy_calls_total',
      help: 'Requests proxied to another site, by target and outcome',
      labelNames: ['target', 'outcome'],
      registers,
    });
    this.proxyLatency = new Histogram({
      name: 'dd_sdc_proxy_seconds',
      help: 'Proxied request latency',
      registers,
    });
    this.unconfirmedWrites = new Counter({
      name: 'dd_sdc_unconfirmed_writes_total',
      help: 'Local writes answered 503 because their commit did not reach cluster.redisWaitReplicas Redis replicas in time (kept and queued)',
      registers,
    });
    // SPEC §10: a Redis that is away leaves the queue gauges as they were; /metrics keeps answering.
    const source = () => this.queueSource?.().catch(() => undefined);
    this.queueLength = new Gauge({
      name: 'dd_sdc_queue_length',
      help: 'Changes in the submit queue',
      registers,
      async collect() {
        const queue = await source();
        if (queue) this.set(queue.length);
      },
    });
    this.queueOldestAge = new Gauge({
      name: 'dd_sdc_queue_oldest_age_seconds',
      help: 'Age of the oldest queued change',
      registers,
      async collect() {
        const queue = await source();
        if (queue) this.set((queue.oldestAgeMs ?? 0) / 1000);
      },
    });
  }

  private queueSource: (() => Promise<{ length: number; oldestAgeMs: number | null }>) | undefined;

  /** Where the queue gauges read from at scrape time. */
  readQueueFrom(source: () => Promise<{ length: number; oldestAgeMs: number | null }>): void {
    this.queueSource = source;
  }

  recordCycle(report: CycleFigures): void {
    this.cycleDuration.observe(report.durationMs / 1000);
    this.pushed.inc(report.pushed);
    this.rejected.inc(report.rejected);
    this.pulled.inc(report.pulled);
    this.repaired.inc(report.repaired);
    if (report.ok) this.lastSuccess.set(Date.now() / 1000);
    // by the error's code (`changes_lost: …` → changes_lost): a label per message would grow without end
    else this.cycleFailures.inc({ error: errorLabel(report.error) });
  }
}

/** A cycle error's code: the part before `: `, when that is a snake_case word; else `other`. */
export function errorLabel(error: string | null): string {
  const code = /^([a-z][a-z0-9_]*)(?::|$)/.exec(error ?? '')?.[1];
  return code ?? 'other';
}
