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
    extra: { max: 10 },
  };
}
