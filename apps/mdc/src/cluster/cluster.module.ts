import { Module } from '@nestjs/common';
import { DirectoryModule } from '../directory/directory.module';
import { SyncModule } from '../sync/sync.module';
import { ClusterController } from './cluster.controller';
import { ClusterGauges } from './cluster.gauges';
import { ClusterStatusService } from './cluster-status.service';

@Module({
  imports: [DirectoryModule, SyncModule],
  controllers: [ClusterController],
  providers: [ClusterStatusService, ClusterGauges],
})
export class ClusterModule {}
