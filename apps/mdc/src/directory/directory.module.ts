import { Module } from '@nestjs/common';
import { BatchController, BatchService, DIRECTORY_SERVICE, DirectoryController } from '@dd/admin-api';
import { MdcMetrics } from '../ops/mdc.metrics';
import { ApplyChanges } from './apply-changes';
import { DirectoryStore } from './directory.store';
import { MasterDomainSeeder } from './master-domain.seeder';
import { MdcDirectoryService } from './mdc-directory.service';

@Module({
  controllers: [DirectoryController, BatchController],
  providers: [
    DirectoryStore,
    ApplyChanges,
    MdcMetrics,
    MasterDomainSeeder,
    { provide: DIRECTORY_SERVICE, useClass: MdcDirectoryService },
    BatchService,
  ],
  exports: [DirectoryStore, ApplyChanges, MdcMetrics],
})
export class DirectoryModule {}
