import { createSiteApp, listen, readSiteEnv } from '@dd/admin-api';
import { SdcModule } from './app.module';
import { SiteRouter } from './proxy/site-router';
import { SdcMetrics } from './ops/sdc.metrics';
import { SyncStatusService } from './sync/sync-status.service';

async function main(): Promise<void> {
  const env = readSiteEnv();
  const app = await createSiteApp(SdcModule.forRoot(env), 'Domain directory — work site (SDC)', (app) => {
    const router = app.get(SiteRouter);
    app
      .getHttpAdapter()
      .getInstance()
      .addHook('preHandler', (request, reply) => router.handle(request, reply));
    const status = app.get(SyncStatusService);
    app.get(SdcMetrics).queueSource = () => status.queue();
  });
  await listen(app, env.port);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
