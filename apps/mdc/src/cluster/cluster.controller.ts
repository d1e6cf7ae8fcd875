import { Controller, Get, Query, UseInterceptors } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import {
  ApiAdminOperation,
  ApiAnswer,
  ApiError,
  assertInScope,
  AuditPageDto,
  AuditQuery,
  Caller,
  ClusterStatusDto,
  CurrentCaller,
  parseLimit,
  RoutingInterceptor,
  SyncStatusDto,
} from '@dd/admin-api';
import { ClusterStatusService } from './cluster-status.service';

/** SPEC §5 operations views of the master site. */
@ApiTags('cluster')
@UseInterceptors(RoutingInterceptor)
@Controller('api/v1')
export class ClusterController {
  constructor(private readonly status: ClusterStatusService) {}

  @Get('cluster/status')
  @ApiAdminOperation('Every site at a glance: last push and resync, last applied seq, queue, lag (scope `*`)')
  @ApiAnswer(200, {
    type: ClusterStatusDto,
    description: 'the configured sites, as the MDC last heard of them',
  })
  clusterStatus(@CurrentCaller() caller: Caller) {
    requireWholeCluster(caller, 'the cluster status');
    return this.status.clusterStatus();
  }

  /** A scoped admin reads the audit of a domain in its scope; the whole log needs scope `*`. */
  @Get('audit')
  @ApiAdminOperation('The applied changes, newest first: who, from which site, when, what, version')
  @ApiAnswer(200, { type: AuditPageDto, description: 'a page of applied changes' })
  audit(@CurrentCaller() caller: Caller, @Query() query: AuditQuery) {
    const { domain, limit, after } = query;
    if (domain) assertInScope(caller, domain);
    else requireWholeCluster(caller, 'the audit of every domain');
    return this.status.audit(domain || undefined, parseLimit(limit), after);
  }

  @Get('sync/status')
  @ApiAdminOperation("The master site's sync status (it has no queue and is its own MDC)")
  @ApiAnswer(200, { type: SyncStatusDto, description: 'the sync status' })
  syncStatus() {
    return this.status.syncStatus();
  }
}

function requireWholeCluster(caller: Caller, what: string): void {
  if (caller.admin.scope !== '*')
    throw new ApiError('forbidden', `admin ${caller.admin.name} may not read ${what}`);
}
