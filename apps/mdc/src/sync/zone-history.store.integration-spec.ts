import { DataSource } from 'typeorm';
import { createTestDatabase, TestDatabase } from '../../../../test/harness/services';
import { dataSourceOptions } from '../database/data-source';
import { ZoneHistoryStore } from './zone-history.store';

const T = (minute: number) => new Date(Date.UTC(2026, 2, 1, 12, minute));
const LONG_AGO = new Date(0);

/** SPEC §9: the zones' recorded assignments, on a migrated DomainDB. */
describe('ZoneHistoryStore on PostgreSQL', () => {
  let db: TestDatabase;
  let source: DataSource;
  let store: ZoneHistoryStore;

  beforeAll(async () => {
    db = await createTestDatabase('zonehistory');
    source = await new DataSource(dataSourceOptions(db.url)).initialize();
    store = new ZoneHistoryStore(source);
  });
  afterAll(async () => {
    await source?.destroy();
    await db?.drop();
  });
  beforeEach(() => source.query('DELETE FROM zone_assignments'));

  const acmeAtA = { zone: 'acme', site: 'site-a' };
  const acmeAtB = { zone: 'acme', site: 'site-b' };
  const globexAtB = { zone: 'globex', site: 'site-b' };
  const period = (a: { zone: string; site: string }, since: Date, until: Date | null) => ({
    ...a,
    since: since.getTime(),
    until: until === null ? null : until.getTime(),
  });
  const all = async () =>
    (await store.endingAfter(LONG_AGO)).sort((x, y) => x.since - y.since || x.site.localeCompare(y.site));

  it('opens a period for each assignment, and keeps it open while later configs still have it', async () => {
    await store.record([acmeAtA, globexAtB], T(0), LONG_AGO);
    await store.record([acmeAtA, globexAtB], T(5), LONG_AGO);
    expect(await all()).toEqual([period(acmeAtA, T(0), null), period(globexAtB, T(0), null)]);
  });

  it('ends the period of a zone moved away at the reload and opens the new site’s', async () => {
    await store.record([acmeAtA], T(0), LONG_AGO);
    await store.record([acmeAtB], T(5), LONG_AGO);
    expect(await all()).toEqual([period(acmeAtA, T(0), T(5)), period(acmeAtB, T(5), null)]);
  });

  it('ends every open period when the config has no zones left', async () => {
    await store.record([acmeAtA, globexAtB], T(0), LONG_AGO);
    await store.record([], T(5), LONG_AGO);
    expect(await all()).toEqual([period(acmeAtA, T(0), T(5)), period(globexAtB, T(0), T(5))]);
  });

  it('opens a new period for a zone given back, keeping the old one', async () => {
    await store.record([acmeAtA], T(0), LONG_AGO);
    await store.record([acmeAtB], T(5), LONG_AGO);
    await store.record([acmeAtA], T(9), LONG_AGO);
    expect(await all()).toEqual([
      period(acmeAtA, T(0), T(5)),
      period(acmeAtB, T(5), T(9)),
      period(acmeAtA, T(9), null),
    ]);
  });

  it('answers only the open periods and those that ended after the given moment', async () => {
    await store.record([acmeAtA], T(0), LONG_AGO);
    await store.record([acmeAtB], T(5), LONG_AGO);
    expect(await store.endingAfter(T(6))).toEqual([period(acmeAtB, T(5), null)]);
    expect(await store.endingAfter(T(4))).toHaveLength(2);
  });

  it('forgets periods that ended before the grace, never open ones', async () => {
    await store.record([acmeAtA], T(0), LONG_AGO);
    await store.record([acmeAtB], T(5), LONG_AGO);
    await store.record([acmeAtB], T(30), T(10));
    expect(await all()).toEqual([period(acmeAtB, T(5), null)]);
  });

  it('leaves one open period per (zone, site) when replicas record the same config at once', async () => {
    await Promise.all([1, 2, 3, 4].map((i) => store.record([acmeAtA, globexAtB], T(i), LONG_AGO)));
    const open = await all();
    expect(open.map((p) => [p.zone, p.site, p.until])).toEqual(
      expect.arrayContaining([
        ['acme', 'site-a', null],
        ['globex', 'site-b', null],
      ]),
    );
    expect(open).toHaveLength(2);
  });
});
