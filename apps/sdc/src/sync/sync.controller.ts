import { Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { Caller, CurrentCaller, parseLimit } from '@dd/admin-api';
import { SyncStatusService } from './sync-status.service';

/** SPEC §5 sync routes of a work site. */
@ApiTags('sync')
@ApiBearerAuth()
@Controller('api/v1/sync')
export class SyncController {
  constructor(private readonly status: SyncStatusService) {}

  @Get('status')
  syncStatus() {
    return this.status.status();
  }

  @Get('rejections')
  rejections(@CurrentCaller() caller: Caller, @Query('limit') limit?: string) {
    return this.status.rejections(caller.admin.scope, parseLimit(limit));
  }

  /** Runs one cycle now; 200 with `lastCycle` also when it failed (`ok: false`, `error`). */
  @Post('run')
  @HttpCode(200)
  run() {
    return this.status.runNow();
  }
}
