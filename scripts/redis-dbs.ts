/**
 * SPEC §11 `npm run cluster`: each SDC gets a Redis database of its own. The first site uses the
 * database `REDIS_URL` names (its path, `/0` when it names none), each next site the next number —
 * so a developer who points REDIS_URL at `/5` keeps databases 0–4 untouched. On a Redis Cluster
 * (`redis-cluster://`) every site uses the cluster.
 */
export function siteRedisUrls(base: string, sites: number): string[] {
  // SPEC §4: a Redis Cluster has no databases; the sites share it, kept apart by their hash tags
  if (base.startsWith('redis-cluster://')) return Array.from({ length: sites }, () => base);
  const parsed = new URL(base);
  const path = parsed.pathname.replace(/^\//, '');
  if (path !== '' && !/^\d+$/.test(path)) {
    throw new Error(
      `REDIS_URL must name a database by number (redis://host:port/N), got "${parsed.pathname}"`,
    );
  }
  const first = path === '' ? 0 : Number(path);
  return Array.from({ length: sites }, (_, i) => {
    const site = new URL(base);
    site.pathname = `/${first + i}`;
    return site.toString();
  });
}
