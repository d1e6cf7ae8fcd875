import { startSite } from '@dd/admin-api';
import { SdcModule } from './app.module';

startSite('Domain directory — work site (SDC)', (env) => SdcModule.forRoot(env));
