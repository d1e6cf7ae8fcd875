import { Controller, Get, HttpCode, Post, Query, Res, UseInterceptors } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Caller, CurrentCaller, parseLimit, RoutingInterceptor } from '@dd/admin-api';
import { parseRunTimeout, SyncStatusService } from './sync-status.service';

/** SPEC §5 sync routes of a work site. */
@ApiTags('sync')
@ApiBearerAuth()
@UseInterceptors(RoutingInterceptor)
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

  /** Runs one cycle now; 200 with `lastCycle` also when it failed (`ok: false`, `error`), 202 if still running at the deadline. */
  @Post('run')
  @HttpCode(200)
  async run(
    @Query('timeoutMs') timeoutMs: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const { status, body } = await this.status.runNow(parseRunTimeout(timeoutMs));
    void reply.status(status);
    return body;
  }
}
