import { type Change, targetDomain } from '@dd/directory';
import type { ClusterConfig } from './cluster-config.model';
import { servingSites } from './zone-resolution';

/**
 * SPEC §9: "A site can change only what it serves." The MDC asks this of every pushed change; the
 * config in force and the zones' recent assignments (recorded by the MDC at start-up and on every
 * reload) are all it needs, so the answer is a pure function of them.
 */

/** One period in which a site served a zone, as the MDC recorded it. Times in ms since the epoch. */
export interface ZoneAssignment {
  zone: string;
  site: string;
  since: number;
  /** null: still serving at the last recording */
  until: number | null;
}

export type ScopeVerdict = { ok: true } | { ok: false; message: string };

/** The (zone, site) pairs a config assigns, as the MDC records them. */
export function zoneAssignments(config: ClusterConfig): Array<{ zone: string; site: string }> {
  return config.zones.flatMap((zone) => zone.sites.map((site) => ({ zone: zone.domain, site })));
}

/**
 * Whether `site` may push `change` at `now`. Every domain the change touches must be in the site's
 * scope: the one it names (a create counts by its new name), the one its id addresses in DomainDB
 * (`stored`, when the object exists: a change names its target but is applied by id), and, for a
 * recursive delete, every zone below it. A domain is in scope if the config in force has the site
 * serve it (most specific zone), or if the site served it at some moment within the last
 * `cluster.zoneMoveGraceMs` (a zone moved away: what the site queued meanwhile still lands). The
 * master domain is never in a site's scope.
 */
export function mayChange(
  config: ClusterConfig,
  history: readonly ZoneAssignment[],
  site: string,
  change: Change,
  now: number,
  stored?: string,
): ScopeVerdict {
  const named = [targetDomain(change), ...(stored === undefined ? [] : [stored])];
  const touched =
    change.op === 'domain.delete' && change.recursive
      ? [...named, ...config.zones.map((z) => z.domain).filter((z) => named.some((d) => isBelow(z, d)))]
      : named;
  const from = now - config.cluster.zoneMoveGraceMs;
  for (const domain of touched) {
    if (domain === config.masterDomain || isBelow(domain, config.masterDomain)) {
      return { ok: false, message: `the master domain "${config.masterDomain}" is changed only at the MDC` };
    }
    if (!servingSites(config, domain).includes(site) && !servedSince(history, site, domain, from, now)) {
      // JSON-quoted: the name comes from the site and no rule has checked it yet.
      const quoted = JSON.stringify(domain);
      return { ok: false, message: `site ${site} does not serve domain ${quoted}, so it may not change it` };
    }
  }
  return { ok: true };
}

/** `name` is a proper descendant of `ancestor`. */
function isBelow(name: string, ancestor: string): boolean {
  return name.endsWith(`.${ancestor}`);
}

function within(name: string, zone: string): boolean {
  return name === zone || isBelow(name, zone);
}

/** Whether the site served `domain` at some moment in [from, now], by the recorded assignments. */
function servedSince(
  history: readonly ZoneAssignment[],
  site: string,
  domain: string,
  from: number,
  now: number,
): boolean {
  // Only a period of this site's over a zone holding the domain can grant it; usually there is none.
  const candidate = history.some(
    (a) => a.site === site && within(domain, a.zone) && (a.until === null || a.until > from),
  );
  if (!candidate) return false;
  // The assignments change only at recorded moments, so checking the start of each stretch suffices.
  const moments = new Set<number>([from]);
  for (const a of history) {
    for (const t of [a.since, a.until]) if (t !== null && t > from && t <= now) moments.add(t);
  }
  return [...moments].some((t) => servedAt(history, site, domain, t));
}

/** SPEC §4 at moment `t`: the most specific zone holding the domain then decides. */
function servedAt(history: readonly ZoneAssignment[], site: string, domain: string, t: number): boolean {
  const active = history.filter((a) => a.since <= t && (a.until === null || t < a.until));
  for (let suffix = domain; ;) {
    const sites = active.filter((a) => a.zone === suffix).map((a) => a.site);
    if (sites.length > 0) return sites.includes(site);
    const dot = suffix.indexOf('.');
    if (dot < 0) return false;
    suffix = suffix.slice(dot + 1);
  }
}
