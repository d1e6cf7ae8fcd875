import { DataSourceOptions } from 'typeorm';
import { SCHEMA_ENTITIES } from './schema.entities';
import { MIGRATIONS } from './migrations';

/** DomainDB's connection options; migrations run at start, never `synchronize` (SPEC §4). */
export function dataSourceOptions(url: string): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: SCHEMA_ENTITIES,
    migrations: MIGRATIONS,
    migrationsRun: true,
    synchronize: false,
    // TCP keep-alive: a pooled connection to a primary whose host died (no FIN, no reset: the usual
    // failover) is found dead in about a minute rather than the kernel's two hours (SPEC §11)
    extra: { max: 10, keepAlive: true, keepAliveInitialDelayMillis: 10_000 },
  };
}
