import { DynamicModule, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import {
  DIRECTORY_SERVICE,
  DirectoryController,
  readSiteEnv,
  SiteEnv,
  SiteRuntimeModule,
} from '@dd/admin-api';
import { SdcDirectoryService } from './directory/sdc-directory.service';
import { HealthController } from './ops/health.controller';
import { SdcMetrics } from './ops/sdc.metrics';
import { SiteRouter } from './proxy/site-router';
import { SiteCore } from './site/site-core';
import { SyncStatusService } from './sync/sync-status.service';
import { SyncController } from './sync/sync.controller';

/**
 * A work site: the admin API for the domains it serves from its Redis cache, the submit queue,
 * the sync cycle, the change-signal subscription and the proxy for everything else.
 */
@Module({})
export class SdcModule {
  static forRoot(env: SiteEnv = readSiteEnv()): DynamicModule {
    return {
      module: SdcModule,
      imports: [SiteRuntimeModule.forRoot(env), TerminusModule],
      controllers: [DirectoryController, SyncController, HealthController],
      providers: [
        SdcMetrics,
        SiteCore,
        SiteRouter,
        SyncStatusService,
        { provide: DIRECTORY_SERVICE, useClass: SdcDirectoryService },
      ],
    };
  }
}
