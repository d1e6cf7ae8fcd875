import { startSite } from '@dd/admin-api';
import { MdcModule } from './app.module';

startSite('Domain directory — master site (MDC)', (env) => MdcModule.forRoot(env));
