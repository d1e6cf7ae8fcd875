// The CLI runs this file under plain ts-node: a migration's `@dd/*` imports need the tsconfig paths.
import 'tsconfig-paths/register';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from './data-source';

/** For the TypeORM CLI only: `migration:generate` against a migrated database must find nothing (drift check). */
export default new DataSource(
  dataSourceOptions(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/domaindb'),
);
