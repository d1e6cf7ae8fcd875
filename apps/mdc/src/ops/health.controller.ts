import { Controller, Get } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { ApiAnswer, ApiPublicOperation, checkReady, LiveDto, Public, ReadyDto } from '@dd/admin-api';

/** SPEC §10: live while the process runs; ready while DomainDB answers (503 `store_unavailable` naming it when not). */
@ApiTags('operations')
@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
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
    return checkReady(this.health, [() => this.db.pingCheck('domaindb', { timeout: 2000 })]);
  }
}
