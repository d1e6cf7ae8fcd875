import { Controller, Get } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { checkReady, Public } from '@dd/admin-api';

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
  live() {
    return { status: 'ok' };
  }

  @Get('ready')
  @HealthCheck()
  ready() {
    return checkReady(this.health, [() => this.db.pingCheck('domaindb', { timeout: 2000 })]);
  }
}
