import { Global, Module } from '@nestjs/common';
import { SdcMetrics } from './sdc.metrics';

/** SPEC §10: the site's own Prometheus series, for every module that records one. */
@Global()
@Module({ providers: [SdcMetrics], exports: [SdcMetrics] })
export class SdcMetricsModule {}
