import { Controller, Get } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { Public } from '@dd/admin-api';

/** SPEC §10: an SDC is live while it runs. */
@ApiTags('operations')
@Public()
@Controller('health')
export class HealthController {
  @Get('live')
  live() {
    return { status: 'ok' };
  }
}
