import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { ClusterConfigService, parseLimit } from '@dd/admin-api';
import { ClusterStatusService } from './cluster-status.service';

/** SPEC §5 operations views of the master site. */
@ApiTags('cluster')
@ApiBearerAuth()
@Controller('api/v1')
export class ClusterController {
  constructor(
    private readonly status: ClusterStatusService,
    private readonly config: ClusterConfigService,
  ) {}

  @Get('cluster/status')
  clusterStatus() {
    return this.status.clusterStatus();
  }

  @Get('audit')
  audit(@Query('domain') domain?: string, @Query('limit') limit?: string) {
    return this.status.audit(domain, parseLimit(limit));
  }

  @Get('sync/status')
  syncStatus() {
    return this.status.syncStatus();
  }
}
