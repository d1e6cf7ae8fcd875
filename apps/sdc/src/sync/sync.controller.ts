import { Controller, Get, HttpCode, Post, Query, Res, UseInterceptors } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import {
  ApiAdminOperation,
  ApiAnswer,
  Caller,
  CurrentCaller,
  CycleProgressDto,
  LimitQuery,
  parseLimit,
  RejectionListDto,
  RoutingInterceptor,
  SyncRunDto,
  SyncRunQuery,
  SyncStatusDto,
} from '@dd/admin-api';
import { parseRunTimeout, SyncStatusService } from './sync-status.service';

/** SPEC §5 sync routes of a work site. */
@ApiTags('sync')
@UseInterceptors(RoutingInterceptor)
@Controller('api/v1/sync')
export class SyncController {
  constructor(private readonly status: SyncStatusService) {}

  @Get('status')
  @ApiAdminOperation("The site's sync status: queue, MDC reachability, last push, resync and cycle, zones")
  @ApiAnswer(200, { type: SyncStatusDto, description: 'the sync status' })
  syncStatus() {
    return this.status.status();
  }

  @Get('rejections')
  @ApiAdminOperation('The changes the MDC refused, newest first (those in the admin’s scope)')
  @ApiAnswer(200, { type: RejectionListDto, description: 'the refused changes' })
  rejections(@CurrentCaller() caller: Caller, @Query() query: LimitQuery) {
    return this.status.rejections(caller.admin.scope, parseLimit(query.limit));
  }

  /** Runs one cycle now; 200 with `lastCycle` also when it failed (`ok: false`, `error`), 202 if still running at the deadline. */
  @Post('run')
  @HttpCode(200)
  @ApiAdminOperation('Run one sync cycle now and answer when it is over', 413, 415)
  @ApiAnswer(200, { type: SyncRunDto, description: 'the cycle is over (`ok: false` when it failed)' })
  @ApiAnswer(202, { type: CycleProgressDto, description: 'still running at the deadline; it goes on' })
  async run(@Query() query: SyncRunQuery, @Res({ passthrough: true }) reply: FastifyReply) {
    const { status, body } = await this.status.runNow(parseRunTimeout(query.timeoutMs));
    void reply.status(status);
    return body;
  }
}
