import { DynamicModule, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { TypeOrmModule } from '@nestjs/typeorm';
import { EnvError, readSiteEnv, SiteEnv, SiteRuntimeModule } from '@dd/admin-api';
import { ClusterModule } from './cluster/cluster.module';
import { dataSourceOptions } from './database/data-source';
import { isPostgresFailure } from './database/store-failure';
import { DirectoryModule } from './directory/directory.module';
import { HealthController } from './ops/health.controller';
import { SiteHopsModule } from './sync/site-hops.module';
import { SyncModule } from './sync/sync.module';

/** The master site: DomainDB, the admin API for every domain, and the site-facing sync endpoints. */
@Module({})
export class MdcModule {
  static forRoot(env: SiteEnv = readSiteEnv()): DynamicModule {
    if (!env.databaseUrl) throw new EnvError('environment variable DATABASE_URL is required for the MDC');
    return {
      module: MdcModule,
      imports: [
        SiteRuntimeModule.forRoot(env, isPostgresFailure),
        TypeOrmModule.forRoot(dataSourceOptions(env.databaseUrl)),
        TerminusModule,
        DirectoryModule,
        SiteHopsModule,
        SyncModule,
        ClusterModule,
      ],
      controllers: [HealthController],
    };
  }
}
