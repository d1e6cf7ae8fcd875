import { DataSource } from 'typeorm';
import { bucketOf, computeBucketDigests, Entity } from '@dd/directory';
import { createTestDatabase, TestDatabase } from '../../../../../test/harness/services';
import { dataSourceOptions } from '../data-source';
import { backfillDigestBuckets } from './1795929565944-DigestBuckets';

interface BucketRecord {
  domain: string;
  bucket: number;
  count: number;
  sum: string;
}

/** SPEC §8 scale: the upgrade's backfill counts the live entities already stored into their buckets. */
describe('digest_buckets backfill on PostgreSQL', () => {
  let db: TestDatabase;
  let source: DataSource;

  beforeAll(async () => {
    db = await createTestDatabase('bucketfill');
    source = await new DataSource(dataSourceOptions(db.url)).initialize();
  });
  afterAll(async () => {
    await source?.destroy();
    await db?.drop();
  });

  const stored = (): Promise<BucketRecord[]> =>
    source.query(
      `SELECT domain, bucket, count, sum::text AS sum FROM digest_buckets ORDER BY domain, bucket`,
    );

  async function recount(): Promise<BucketRecord[]> {
    const live: Entity[] = await source.query(
      `SELECT id, domain, kind, name, attributes, version::text AS version FROM entities WHERE deleted_at IS NULL`,
    );
    const byDomain = new Map<string, Entity[]>();
    for (const e of live) {
      if (!byDomain.has(e.domain)) byDomain.set(e.domain, []);
      byDomain.get(e.domain)!.push(e);
    }
    return [...byDomain]
      .flatMap(([domain, entities]) =>
        [...computeBucketDigests(entities)].map(([bucket, d]) => ({ domain, bucket, ...d })),
      )
      .sort((a, b) => (a.domain < b.domain ? -1 : a.domain > b.domain ? 1 : a.bucket - b.bucket));
  }

  it('stores the bucket libs/directory computes for every id', async () => {
    await source.query(
      `INSERT INTO entities (id, domain, kind, name, attributes, version, created_at, updated_at)
       SELECT gen_random_uuid(), 'probe', 'k', 'n' || g, '{}', 1, now(), now() FROM generate_series(1, 500) g`,
    );
    const rows: Array<{ id: string; bucket: number }> = await source.query(`SELECT id, bucket FROM entities`);
    expect(rows.filter((r) => r.bucket !== bucketOf(r.id))).toEqual([]);
    await source.query(`DELETE FROM entities`);
  });

  it('recounts every live entity, across several read pages, leaving the deleted ones out', async () => {
    await source.query(
      `INSERT INTO entities (id, domain, kind, name, attributes, version, created_at, updated_at, deleted_at)
       SELECT gen_random_uuid(), 'd' || (g % 3), 'user', 'u' || g, jsonb_build_object('g', g), g, now(), now(),
              CASE WHEN g % 7 = 0 THEN now() END
         FROM generate_series(1, 12000) g`,
    );
    // the lowest id there is counts too
    await source.query(
      `INSERT INTO entities (id, domain, kind, name, attributes, version, created_at, updated_at)
       VALUES ('00000000-0000-0000-0000-000000000000', 'd0', 'user', 'nil', '{}', 1, now(), now())`,
    );
    await source.query(`DELETE FROM digest_buckets`);
    await backfillDigestBuckets((sql, params) => source.query(sql, params));
    const expected = await recount();
    expect(expected.reduce((n, b) => n + b.count, 0)).toBe(12000 - Math.floor(12000 / 7) + 1);
    expect(await stored()).toEqual(expected);
  });

  it('upgrades a deployment that has entities: its buckets are right after the migration', async () => {
    // back to before this migration (and those after it), whatever comes later
    const applied = async () =>
      (await source.query(`SELECT 1 FROM migrations WHERE name = $1`, ['DigestBuckets1795929565944']))
        .length > 0;
    while (await applied()) await source.undoLastMigration();
    await source.query(
      `INSERT INTO entities (id, domain, kind, name, attributes, version, created_at, updated_at)
       SELECT gen_random_uuid(), 'old', 'user', 'o' || g, '{}', g, now(), now() FROM generate_series(1, 300) g`,
    );
    await source.runMigrations();
    const expected = await recount();
    expect(expected.filter((b) => b.domain === 'old').reduce((n, b) => n + b.count, 0)).toBe(300);
    expect(await stored()).toEqual(expected);
  });

  it('replaces whatever the table held before', async () => {
    await source.query(
      `INSERT INTO digest_buckets (domain, bucket, count, sum) VALUES ('stale', 3, 9, 9)
       ON CONFLICT (domain, bucket) DO NOTHING`,
    );
    await source.query(`UPDATE digest_buckets SET count = count + 1 WHERE domain = 'd0'`);
    await backfillDigestBuckets((sql, params) => source.query(sql, params));
    expect(await stored()).toEqual(await recount());
  });
});
