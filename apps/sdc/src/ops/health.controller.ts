import { Controller, Get } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { messageOf, Public } from '@dd/admin-api';
import { SiteCacheStore } from '../cache/site-cache.store';

/** SPEC §10: ready while the site's Redis answers — and while the MDC is down: a site works alone. */
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
  live() {
    return { status: 'ok' };
  }

  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check([
      async () => {
        const redis = this.indicators.check('redis');
        try {
          await this.store.ping();
          return redis.up();
        } catch (err) {
          return redis.down({ message: messageOf(err) });
        }
      },
    ]);
  }
}
