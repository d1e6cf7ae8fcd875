import { Controller, Get, Query, UseInterceptors } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import {
  ApiError,
  assertInScope,
  Caller,
  CurrentCaller,
  parseLimit,
  RoutingInterceptor,
} from '@dd/admin-api';
import { ClusterStatusService } from './cluster-status.service';

/** SPEC §5 operations views of the master site. */
@ApiTags('cluster')
@ApiBearerAuth()
@UseInterceptors(RoutingInterceptor)
@Controller('api/v1')
export class ClusterController {
  constructor(private readonly status: ClusterStatusService) {}

  @Get('cluster/status')
  clusterStatus(@CurrentCaller() caller: Caller) {
    requireWholeCluster(caller, 'the cluster status');
    return this.status.clusterStatus();
  }

  /** A scoped admin reads the audit of a domain in its scope; the whole log needs scope `*`. SPEC §5: paged. */
  @Get('audit')
  audit(
    @CurrentCaller() caller: Caller,
    @Query('domain') domain?: string,
    @Query('limit') limit?: string,
    @Query('after') after?: string,
  ) {
    if (domain) assertInScope(caller, domain);
    else requireWholeCluster(caller, 'the audit of every domain');
    return this.status.audit(domain || undefined, parseLimit(limit), after);
  }

  @Get('sync/status')
  syncStatus() {
    return this.status.syncStatus();
  }
}

function requireWholeCluster(caller: Caller, what: string): void {
  if (caller.admin.scope !== '*')
    throw new ApiError('forbidden', `admin ${caller.admin.name} may not read ${what}`);
}
