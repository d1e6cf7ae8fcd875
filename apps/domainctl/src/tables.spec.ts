import { ago, cellText, domainsTable, entitiesTable, fields } from './tables';

const NOW = Date.parse('2026-01-01T12:00:00.000Z');

describe('tables', () => {
  it('aligns columns under a header, without borders', () => {
    const text = domainsTable([
      { name: 'acme', parent: null, servedBy: ['site-a'] },
      { name: 'eu.sales.acme', parent: 'sales.acme', servedBy: ['site-a', 'site-b'] },
    ]);
    expect(text.split('\n')).toEqual([
      'NAME           PARENT      SERVED BY',
      'acme           -           site-a',
      'eu.sales.acme  sales.acme  site-a,site-b',
    ]);
  });

  it('marks an entity whose local change is still queued', () => {
    const text = entitiesTable([
      { kind: 'user', name: 'ann', version: '7+site-a.3', pending: true, attributes: { tier: 'gold' } },
    ]);
    expect(text).toContain('7+site-a.3 (pending)');
    expect(text).toContain('{"tier":"gold"}');
  });

  it('shows one object as FIELD / VALUE rows, objects as JSON and nothing as -', () => {
    expect(fields({ name: 'acme', parent: null, settings: { a: 1 } }).split('\n')).toEqual([
      'FIELD     VALUE',
      'name      acme',
      'parent    -',
      'settings  {"a":1}',
    ]);
    expect(cellText('')).toBe('-');
  });

  it('says how long ago a time was', () => {
    expect(ago(null, NOW)).toBe('never');
    expect(ago('2026-01-01T11:59:56.400Z', NOW)).toBe('4s ago');
    expect(ago('2026-01-01T11:56:48.000Z', NOW)).toBe('3m12s ago');
    expect(ago('2026-01-01T09:30:00.000Z', NOW)).toBe('2h30m ago');
  });
});
