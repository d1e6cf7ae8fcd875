import { Module } from '@nestjs/common';
import { DirectoryModule } from '../directory/directory.module';
import { SyncModule } from '../sync/sync.module';
import { ClusterController } from './cluster.controller';
import { ClusterStatusService } from './cluster-status.service';

@Module({
  imports: [DirectoryModule, SyncModule],
  controllers: [ClusterController],
  providers: [ClusterStatusService],
})
export class ClusterModule {}
