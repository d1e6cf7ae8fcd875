import { Controller, Get, Header, Injectable } from '@nestjs/common';
import { ApiProduces, ApiTags } from '@nestjs/swagger';
import { ApiAnswer, ApiPublicOperation } from './openapi';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { Public } from './auth';

/** One Prometheus registry per process (SPEC §10); each app registers its own series in it. */
@Injectable()
export class MetricsRegistry {
  readonly registry = new Registry();

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}

@ApiTags('operations')
@Public()
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsRegistry) {}

  @Get()
  @ApiPublicOperation('Prometheus metrics (SPEC §10)')
  @ApiProduces('text/plain')
  @ApiAnswer(200, { description: 'the Prometheus text exposition format', text: true })
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
