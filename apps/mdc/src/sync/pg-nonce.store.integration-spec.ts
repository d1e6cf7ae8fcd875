import { DataSource } from 'typeorm';
import { createTestDatabase, TestDatabase } from '../../../../test/harness/services';
import { dataSourceOptions } from '../database/data-source';
import { PgNonceStore } from './pg-nonce.store';

/** SPEC §9: a nonce is new once, on a migrated DomainDB. */
describe('PgNonceStore on PostgreSQL', () => {
  let db: TestDatabase;
  let source: DataSource;
  let store: PgNonceStore;

  beforeAll(async () => {
    db = await createTestDatabase('nonces');
    // one connection, so the test sees the session the store's statement ran in
    source = await new DataSource({ ...dataSourceOptions(db.url), extra: { max: 1 } }).initialize();
    store = new PgNonceStore(source);
  });
  afterAll(async () => {
    await source?.destroy();
    await db?.drop();
  });

  it('remembers a nonce once: the same key again is refused while it lasts', async () => {
    expect(await store.remember('site-a:n-1', 30_000)).toBe(true);
    expect(await store.remember('site-a:n-1', 30_000)).toBe(false);
    expect(await store.remember('site-a:n-2', 30_000)).toBe(true);
  });

  it('takes a key again once it has expired', async () => {
    expect(await store.remember('site-a:n-3', 1)).toBe(true);
    await new Promise((r) => setTimeout(r, 20));
    expect(await store.remember('site-a:n-3', 30_000)).toBe(true);
    expect(await store.remember('site-a:n-3', 30_000)).toBe(false);
  });

  it('shares one key space between site calls and proxied hops', async () => {
    expect(await store.forSiteCalls.remember('site-a:n-5', 30_000)).toBe(true);
    expect(await store.forSiteCalls.remember('site-a:n-5', 30_000)).toBe(false);
    expect(await store.remember('site-a:n-5', 30_000)).toBe(false);
  });

  it('turns off synchronous commit for a site call’s own statement only, never for the session', async () => {
    await store.forSiteCalls.remember('site-a:n-4', 30_000);
    const [{ synchronous_commit }] = await source.query('SHOW synchronous_commit');
    expect(synchronous_commit).toBe('on');
  });
});
