import { createSiteApp, listen, readSiteEnv } from '@dd/admin-api';
import { SdcModule } from './app.module';

async function main(): Promise<void> {
  const env = readSiteEnv();
  const app = await createSiteApp(SdcModule.forRoot(env), 'Domain directory — work site (SDC)', env);
  await listen(app, env.port);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
