import { createSiteApp, listen, readSiteEnv } from '@dd/admin-api';
import { MdcModule } from './app.module';
import { ProxyHopCheck } from './sync/proxy-hop.check';

async function main(): Promise<void> {
  const env = readSiteEnv();
  const app = await createSiteApp(MdcModule.forRoot(env), 'Domain directory — master site (MDC)', (app) => {
    const hop = app.get(ProxyHopCheck);
    app
      .getHttpAdapter()
      .getInstance()
      .addHook('preHandler', (request, reply) => hop.handle(request, reply));
  });
  await listen(app, env.port);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
