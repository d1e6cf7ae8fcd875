import { Module } from '@nestjs/common';
import {
  ANSWER_HERE,
  BatchController,
  BatchService,
  DIRECTORY_SERVICE,
  DirectoryController,
  SITE_ROUTING,
} from '@dd/admin-api';
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
    // SPEC §9: the MDC holds every domain and answers everything itself.
    { provide: SITE_ROUTING, useValue: ANSWER_HERE },
    BatchService,
  ],
  exports: [DirectoryStore, ApplyChanges, MdcMetrics, SITE_ROUTING],
})
export class DirectoryModule {}
