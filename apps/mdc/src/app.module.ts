import { DynamicModule, Injectable, Module, OnApplicationBootstrap } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { InjectDataSource, TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { EventEmitter } from 'node:events';
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
  constructor(
    private readonly guard: QueryGuard,
    @InjectDataSource() private readonly db: DataSource,
  ) {}

  onApplicationBootstrap(): void {
    // TypeORM's pool of DomainDB connections (pg-pool), whose checkouts the guard follows
    this.guard.arm((this.db.driver as unknown as { master: EventEmitter }).master);
  }
}

/** DomainDB's QueryGuard, for every module (the retention's purge runs `patient`). */
@Module({})
class QueryGuardModule {}

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
        {
          module: QueryGuardModule,
          global: true,
          providers: [{ provide: QueryGuard, useValue: guard }, QueryGuardArming],
          exports: [QueryGuard],
        },
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
