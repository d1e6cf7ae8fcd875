import { DataSourceOptions } from 'typeorm';
import { SCHEMA_ENTITIES } from './schema.entities';
import { MIGRATIONS } from './migrations';
import { QueryGuard } from './query-guard';

/** DomainDB's connection options; migrations run at start, never `synchronize` (SPEC §4). */
export function dataSourceOptions(url: string, guard?: QueryGuard): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: SCHEMA_ENTITIES,
    migrations: MIGRATIONS,
    migrationsRun: true,
    synchronize: false,
    // SPEC §11, a primary whose host died without a word: an idle pooled connection is found dead by
    // TCP keep-alive (first probe after 10 s idle, then the kernel's interval); a query in flight on
    // one, by the guard's read timeout; a connection attempt to it gives up after 10 s (pg-pool's
    // `connectionTimeoutMillis` also bounds the wait for a free pooled connection: 503 after 10 s).
    extra: {
      max: 10,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      connectionTimeoutMillis: 10_000,
      ...(guard ? { Client: guard.clientClass() } : {}),
    },
  };
}
