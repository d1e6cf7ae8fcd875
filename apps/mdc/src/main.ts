import { createSiteApp, listen, readSiteEnv } from '@dd/admin-api';
import { MdcModule } from './app.module';

async function main(): Promise<void> {
  const env = readSiteEnv();
  const app = await createSiteApp(MdcModule.forRoot(env), 'Domain directory — master site (MDC)', env);
  await listen(app, env.port);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
