import { parseClusterConfig } from './cluster-config.parser';
import { configYaml } from './testing';
import { masterSite, servingSites, siteById, siteServes, zonesOf } from './zone-resolution';

const config = parseClusterConfig(
  configYaml({
    masterDomain: 'hq',
    sites: [{ id: 'mdc', role: 'master' }, { id: 'site-a' }, { id: 'site-b' }, { id: 'site-c' }],
    zones: [
      { domain: 'acme', sites: ['site-a'] },
      { domain: 'eu.sales.acme', sites: ['site-b'] },
      { domain: 'globex', sites: ['site-a', 'site-b'] },
      { domain: 'initech', sites: ['mdc', 'site-c'] },
    ],
  }),
  'cluster.yml',
);

describe('servingSites (SPEC §4)', () => {
  it('serves a zone root and its descendants at the zone sites', () => {
    expect(servingSites(config, 'acme')).toEqual(['site-a']);
    expect(servingSites(config, 'sales.acme')).toEqual(['site-a']);
    expect(servingSites(config, 'globex')).toEqual(['site-a', 'site-b']);
  });

  it('lets the most specific zone win when zones nest on different sites', () => {
    expect(servingSites(config, 'eu.sales.acme')).toEqual(['site-b']);
    expect(servingSites(config, 'paris.eu.sales.acme')).toEqual(['site-b']);
    expect(servingSites(config, 'us.sales.acme')).toEqual(['site-a']);
  });

  it('serves a domain in no zone at the master site only', () => {
    expect(servingSites(config, 'umbrella')).toEqual(['mdc']);
    expect(servingSites(config, 'x.umbrella')).toEqual(['mdc']);
  });

  it('does not take a name that merely ends like a zone for part of it', () => {
    expect(servingSites(config, 'notacme')).toEqual(['mdc']);
    expect(servingSites(config, 'sales.notacme')).toEqual(['mdc']);
  });

  it('serves the master domain and its descendants at the master site only', () => {
    expect(servingSites(config, 'hq')).toEqual(['mdc']);
    expect(servingSites(config, 'ops.hq')).toEqual(['mdc']);
  });

  it('answers per config object, so a reloaded config gives its own answers', () => {
    const moved = parseClusterConfig(
      configYaml({ zones: [{ domain: 'acme', sites: ['site-b'] }] }),
      'cluster.yml',
    );
    expect(servingSites(moved, 'sales.acme')).toEqual(['site-b']);
    expect(servingSites(config, 'sales.acme')).toEqual(['site-a']);
  });
});

describe('site lookups', () => {
  it('tells whether a site serves a domain', () => {
    expect(siteServes(config, 'site-b', 'globex')).toBe(true);
    expect(siteServes(config, 'site-a', 'eu.sales.acme')).toBe(false);
    expect(siteServes(config, 'mdc', 'umbrella')).toBe(true);
    expect(siteServes(config, 'site-c', 'umbrella')).toBe(false);
  });

  it('finds the master site and sites by id', () => {
    expect(masterSite(config).id).toBe('mdc');
    expect(siteById(config, 'site-b')?.url).toBe('http://127.0.0.1:4002');
    expect(siteById(config, 'nowhere')).toBeUndefined();
  });

  it('lists the zone roots assigned to a site', () => {
    expect(zonesOf(config, 'site-a')).toEqual(['acme', 'globex']);
    expect(zonesOf(config, 'site-b')).toEqual(['eu.sales.acme', 'globex']);
    expect(zonesOf(config, 'mdc')).toEqual(['initech']);
    expect(zonesOf(config, 'nowhere')).toEqual([]);
  });
});
