import { DynamicModule, Module } from '@nestjs/common';
import { readSiteEnv, SiteEnv, SiteRuntimeModule } from '@dd/admin-api';
import { HealthController } from './ops/health.controller';

/**
 * A work site. For now only the runtime every site shares (config, auth, logs, metrics, health);
 * the cache, submit queue, sync cycle and proxy are the site-controller issue.
 */
@Module({})
export class SdcModule {
  static forRoot(env: SiteEnv = readSiteEnv()): DynamicModule {
    return { module: SdcModule, imports: [SiteRuntimeModule.forRoot(env)], controllers: [HealthController] };
  }
}
