import { DynamicModule, Injectable, Module, OnApplicationBootstrap } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { TypeOrmModule } from '@nestjs/typeorm';
import { EnvError, readSiteEnv, SiteEnv, SiteRuntimeModule } from '@dd/admin-api';
import { ClusterModule } from './cluster/cluster.module';
import { dataSourceOptions } from './database/data-source';
import { QueryGuard } from './database/query-guard';
import { isPostgresFailure } from './database/store-failure';
import { DirectoryModule } from './directory/directory.module';
import { HealthController } from './ops/health.controller';
import { SiteHopsModule } from './sync/site-hops.module';
import { SyncModule } from './sync/sync.module';

/** Arms DomainDB's query read timeout once the MDC has started (its migrations have run). */
@Injectable()
class QueryGuardArming implements OnApplicationBootstrap {
  constructor(private readonly guard: QueryGuard) {}

  onApplicationBootstrap(): void {
    this.guard.arm();
  }
}

/** The master site: DomainDB, the admin API for every domain, and the site-facing sync endpoints. */
@Module({})
export class MdcModule {
  static forRoot(env: SiteEnv = readSiteEnv()): DynamicModule {
    if (!env.databaseUrl) throw new EnvError('environment variable DATABASE_URL is required for the MDC');
    const guard = new QueryGuard(env.databaseQueryTimeoutMs);
    return {
      module: MdcModule,
      imports: [
        SiteRuntimeModule.forRoot(env, isPostgresFailure),
        TypeOrmModule.forRoot(dataSourceOptions(env.databaseUrl, guard)),
        TerminusModule,
        DirectoryModule,
        SiteHopsModule,
        SyncModule,
        ClusterModule,
      ],
      controllers: [HealthController],
      providers: [{ provide: QueryGuard, useValue: guard }, QueryGuardArming],
    };
  }
}
