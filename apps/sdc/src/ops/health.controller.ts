import { Controller, Get } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { ApiAnswer, ApiPublicOperation, checkReady, LiveDto, Public, ReadyDto } from '@dd/admin-api';
import { SiteCacheStore } from '../cache/site-cache.store';
import { REDIS_COMMAND_TIMEOUT_MS } from '../cache/site-redis';

/**
 * SPEC §10: ready while the site's Redis answers (503 `store_unavailable` naming it when it does not) —
 * and while the MDC is down: a site works alone.
 */
@ApiTags('operations')
@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly store: SiteCacheStore,
  ) {}

  @Get('live')
  @ApiPublicOperation('Live while the process runs')
  @ApiAnswer(200, { type: LiveDto, description: 'the process runs' })
  live() {
    return { status: 'ok' };
  }

  @Get('ready')
  @HealthCheck({ swaggerDocumentation: false })
  @ApiPublicOperation("Ready while the site's own store answers", 503)
  @ApiAnswer(200, { type: ReadyDto, description: 'the store answers' })
  ready() {
    return checkReady(this.health, [
      () =>
        this.indicators
          .check('redis')
          .attempt(() => this.store.ping())
          .withTimeout(REDIS_COMMAND_TIMEOUT_MS),
    ]);
  }
}
