import type { Change } from '@dd/directory';
import { mayChange, ZoneAssignment, zoneAssignments } from './change-scope';
import type { ClusterConfig } from './cluster-config.model';
import { parseClusterConfig } from './cluster-config.parser';
import { configYaml } from './testing';

const DAY = 24 * 3600 * 1000;
const NOW = Date.parse('2026-03-01T12:00:00Z');
const ZONES = [
  { domain: 'acme', sites: ['site-a'] },
  { domain: 'eu.acme', sites: ['site-b'] },
  { domain: 'globex', sites: ['site-a', 'site-b'] },
  { domain: 'umbrella', sites: ['site-b'] },
];

function configOf(zones = ZONES, zoneMoveGraceMs?: number): ClusterConfig {
  return parseClusterConfig(
    configYaml({ zones, ...(zoneMoveGraceMs === undefined ? {} : { cluster: { zoneMoveGraceMs } }) }),
    'cluster.yml',
  );
}
const config = configOf();

const entityCreate = (domain: string, kind = 'user'): Change => ({
  op: 'entity.create',
  id: 'e1',
  domain,
  kind,
  name: 'alice',
  attributes: {},
});
const entityUpdate = (domain: string): Change => ({
  op: 'entity.update',
  id: 'e1',
  domain,
  kind: 'user',
  name: 'alice',
  patch: { a: 1 },
});
const domainCreate = (name: string): Change => ({
  op: 'domain.create',
  id: 'd1',
  name,
  parent: name.includes('.') ? name.slice(name.indexOf('.') + 1) : null,
  settings: {},
});
const domainUpdate = (name: string): Change => ({ op: 'domain.update', id: 'd1', name, patch: { a: 1 } });
const domainDelete = (name: string, recursive = false): Change => ({
  op: 'domain.delete',
  id: 'd1',
  name,
  recursive,
});

const allowed = { ok: true };
const refused = (domain: string, site = 'site-a') => ({
  ok: false,
  message: `site ${site} does not serve domain "${domain}", so it may not change it`,
});
const masterRefused = { ok: false, message: 'the master domain "master" is changed only at the MDC' };

describe('mayChange (SPEC §9: a site can change only what it serves)', () => {
  const check = (change: Change, site = 'site-a', stored?: string) =>
    mayChange(config, [], site, change, NOW, stored);

  describe('refuses each change of the finding with a message naming the domain', () => {
    it('refuses an entity pushed into another site’s zone', () => {
      expect(check(entityCreate('umbrella'))).toEqual(refused('umbrella'));
    });

    it('refuses an admin entity pushed into the master domain', () => {
      expect(check(entityCreate('master', 'admin'))).toEqual(masterRefused);
    });

    it('refuses a new first-level domain no zone of the site covers', () => {
      expect(check(domainCreate('newco'))).toEqual(refused('newco'));
    });

    it('refuses a domain.update of the master domain', () => {
      expect(check(domainUpdate('master'))).toEqual(masterRefused);
    });

    it('refuses a domain.delete in another site’s zone', () => {
      expect(check(domainDelete('x.umbrella'))).toEqual(refused('x.umbrella'));
    });
  });

  describe('allows what the site serves', () => {
    it('allows entity changes in its zone and below it', () => {
      expect(check(entityCreate('acme'))).toEqual(allowed);
      expect(check(entityUpdate('sales.acme'))).toEqual(allowed);
    });

    it('allows a domain.create under its zone, and of its zone’s root, by the new name', () => {
      expect(check(domainCreate('sales.acme'))).toEqual(allowed);
      expect(check(domainCreate('acme'))).toEqual(allowed);
    });

    it('allows a domain.update and a domain.delete in its zone', () => {
      expect(check(domainUpdate('acme'))).toEqual(allowed);
      expect(check(domainDelete('sales.acme'))).toEqual(allowed);
    });

    it('allows both sites of a zone served on several sites', () => {
      expect(check(entityCreate('globex'), 'site-a')).toEqual(allowed);
      expect(check(entityCreate('globex'), 'site-b')).toEqual(allowed);
    });

    it('allows the other site’s change in its own zone (the same finding, seen from site-b)', () => {
      expect(check(entityCreate('umbrella'), 'site-b')).toEqual(allowed);
      expect(check(domainDelete('x.umbrella'), 'site-b')).toEqual(allowed);
    });
  });

  it('lets the most specific zone win: a zone nested in the site’s zone is not the site’s', () => {
    expect(check(entityCreate('eu.acme'))).toEqual(refused('eu.acme'));
    expect(check(domainCreate('paris.eu.acme'))).toEqual(refused('paris.eu.acme'));
    expect(check(entityCreate('eu.acme'), 'site-b')).toEqual(allowed);
    expect(check(entityCreate('acme'), 'site-b')).toEqual(refused('acme', 'site-b'));
  });

  it('refuses everything below the master domain too', () => {
    expect(check(domainCreate('ops.master'))).toEqual(masterRefused);
  });

  it('quotes a name it refuses as JSON, since no rule has checked it yet', () => {
    expect(check(entityCreate('a\u0000b'))).toEqual({
      ok: false,
      message: 'site site-a does not serve domain "a\\u0000b", so it may not change it',
    });
  });

  it('refuses a site that serves nothing', () => {
    expect(check(entityCreate('acme'), 'master')).toEqual(refused('acme', 'master'));
  });

  describe('checks the domain the change’s id addresses, not only the name it claims', () => {
    it('refuses an update that names its own zone but addresses the master domain by id', () => {
      expect(check(domainUpdate('acme'), 'site-a', 'master')).toEqual(masterRefused);
    });

    it('refuses an entity update that names its own zone but addresses an entity of another zone', () => {
      expect(check(entityUpdate('acme'), 'site-a', 'umbrella')).toEqual(refused('umbrella'));
    });

    it('allows a change whose stored target is in its scope', () => {
      expect(check(entityUpdate('acme'), 'site-a', 'sales.acme')).toEqual(allowed);
    });
  });

  describe('a recursive delete reaches every zone below it', () => {
    it('refuses a recursive delete whose subtree holds another site’s zone', () => {
      expect(check(domainDelete('acme', true))).toEqual(refused('eu.acme'));
    });

    it('allows a plain delete of that domain (the rules refuse it if it has children)', () => {
      expect(check(domainDelete('acme', false))).toEqual(allowed);
    });

    it('allows a recursive delete with no other site’s zone below it', () => {
      expect(check(domainDelete('sales.acme', true))).toEqual(allowed);
      expect(check(domainDelete('globex', true))).toEqual(allowed);
    });
  });

  describe('a zone moved away: changes are accepted for cluster.zoneMoveGraceMs after the move', () => {
    // acme was site-a's until MOVED, then site-b's; eu.acme has been site-b's all along.
    const MOVED = NOW - 2 * DAY;
    const history: ZoneAssignment[] = [
      { zone: 'acme', site: 'site-a', since: NOW - 30 * DAY, until: MOVED },
      { zone: 'acme', site: 'site-b', since: MOVED, until: null },
      { zone: 'eu.acme', site: 'site-b', since: NOW - 30 * DAY, until: null },
    ];
    const moved = (grace?: number) =>
      configOf(
        [
          { domain: 'acme', sites: ['site-b'] },
          { domain: 'eu.acme', sites: ['site-b'] },
        ],
        grace,
      );

    it('accepts the old site’s changes within the grace (default 7 days), in the zone and below it', () => {
      expect(mayChange(moved(), history, 'site-a', entityCreate('acme'), NOW)).toEqual(allowed);
      expect(mayChange(moved(), history, 'site-a', domainCreate('sales.acme'), NOW)).toEqual(allowed);
    });

    it('refuses them once the grace has run out', () => {
      const later = MOVED + 7 * DAY + 1;
      expect(mayChange(moved(), history, 'site-a', entityCreate('acme'), later)).toEqual(refused('acme'));
    });

    it('refuses them at once with a grace shorter than the time since the move', () => {
      expect(mayChange(moved(1), history, 'site-a', entityCreate('acme'), NOW)).toEqual(refused('acme'));
      expect(mayChange(moved(DAY), history, 'site-a', entityCreate('acme'), NOW)).toEqual(refused('acme'));
      expect(mayChange(moved(3 * DAY), history, 'site-a', entityCreate('acme'), NOW)).toEqual(allowed);
    });

    it('grants only what the site served then: not a zone nested in it that another site served', () => {
      expect(mayChange(moved(), history, 'site-a', entityCreate('eu.acme'), NOW)).toEqual(refused('eu.acme'));
    });

    it('grants what the site served at any moment of the grace, before a nested zone was carved out', () => {
      const carved: ZoneAssignment[] = [
        { zone: 'acme', site: 'site-a', since: NOW - 30 * DAY, until: null },
        { zone: 'eu.acme', site: 'site-b', since: NOW - DAY, until: null },
      ];
      const now = configOf([
        { domain: 'acme', sites: ['site-a'] },
        { domain: 'eu.acme', sites: ['site-b'] },
      ]);
      expect(mayChange(now, carved, 'site-a', entityCreate('eu.acme'), NOW)).toEqual(allowed);
      expect(mayChange(now, carved, 'site-a', entityCreate('eu.acme'), NOW + 7 * DAY)).toEqual(
        refused('eu.acme'),
      );
    });

    it('counts a period still open in the record as lasting until now (a reload not recorded yet)', () => {
      const unrecorded: ZoneAssignment[] = [{ zone: 'acme', site: 'site-a', since: NOW - DAY, until: null }];
      expect(mayChange(moved(1), unrecorded, 'site-a', entityCreate('acme'), NOW)).toEqual(allowed);
    });

    it('gives the site that got the zone its scope from the config alone', () => {
      expect(mayChange(moved(), [], 'site-b', entityCreate('acme'), NOW)).toEqual(allowed);
    });

    it('never grants another site’s history', () => {
      expect(mayChange(moved(), history, 'site-c', entityCreate('acme'), NOW)).toEqual(
        refused('acme', 'site-c'),
      );
    });
  });
});

describe('zoneAssignments', () => {
  it('lists every (zone, site) pair the config assigns', () => {
    expect(zoneAssignments(config)).toEqual([
      { zone: 'acme', site: 'site-a' },
      { zone: 'eu.acme', site: 'site-b' },
      { zone: 'globex', site: 'site-a' },
      { zone: 'globex', site: 'site-b' },
      { zone: 'umbrella', site: 'site-b' },
    ]);
  });
});
