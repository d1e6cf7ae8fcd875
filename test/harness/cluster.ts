import { rmSync } from 'node:fs';
import { ClusterFiles, ClusterFilesOptions, TestAdmin } from './cluster-files';
import { AdminClient, SiteCaller } from './http';
import { deleteSiteKeys } from './own-servers';
import { ExitInfo, MDC_MAIN, SDC_MAIN, SiteProcess, waitReady } from './processes';

export { waitReady };
import { TcpRelay } from './relay';
import { createTestDatabase, createTestRedisDb, TestDatabase, TestRedisDb } from './services';

export interface TestClusterOptions {
  /** site ids; the first is the master. Default: master, site-a, site-b */
  sites?: string[];
  zones: Array<{ domain: string; sites: string[] }>;
  /** extra admins beside `ops` (token `ops-token`, scope *) */
  admins?: TestAdmin[];
  cluster?: ClusterFilesOptions['cluster'];
  /** extra environment of every SDC, e.g. `{ SYNC_INTERVAL_MS: '500' }` */
  sdcEnv?: Record<string, string>;
  /** extra environment of the MDC */
  mdcEnv?: Record<string, string>;
  /**
   * Readiness of an SDC: `path` answering 200; while `path` answers 404 (a site that does not
   * serve it yet), `fallback` answering 200. Default /health/ready, falling back to /health/live.
   */
  sdcReady?: { path: string; fallback?: string };
  /** per process start. Default 30 s */
  readyTimeoutMs?: number;
  /** the MDC's DATABASE_URL on a server the test owns (test/harness/own-servers.ts); default: a new database */
  databaseUrl?: string;
  /**
   * a work site's REDIS_URL on a server the test owns — or a Redis Cluster (`OwnRedisCluster`),
   * which several sites may share; default: a free database of the test Redis
   */
  redisUrls?: Record<string, string>;
}

interface WorkSite {
  redis: TestRedisDb;
  relay: TcpRelay;
}

/**
 * A whole cluster as operators run it (SPEC §12): the MDC on a database of its own, and each work
 * site's SDC on a Redis database of its own, reaching the MDC through a TCP relay the test can cut
 * (each site reads its own copy of the config, listing the relay as the master's URL — SPEC §4).
 * Every process is a child process of the built apps (`dist/`) on 127.0.0.1.
 */
export class TestCluster {
  readonly files: ClusterFiles;
  private mdcDatabase: TestDatabase | undefined;
  private readonly work = new Map<string, WorkSite>();
  private readonly processes = new Map<string, SiteProcess>();
  private readonly envs = new Map<string, Record<string, string>>();
  private stopped: Promise<void> | undefined;

  private constructor(
    readonly label: string,
    files: ClusterFiles,
    private readonly options: TestClusterOptions,
  ) {
    this.files = files;
  }

  /** Starts the MDC, then every SDC; stops whatever it started if any of it fails. */
  static async start(label: string, options: TestClusterOptions): Promise<TestCluster> {
    const files = await ClusterFiles.create({
      sites: options.sites,
      zones: options.zones,
      admins: options.admins,
      cluster: options.cluster,
    });
    const cluster = new TestCluster(label, files, options);
    try {
      await cluster.boot();
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  private async boot(): Promise<void> {
    const master = this.files.master;
    const { databaseUrl } = this.options;
    this.mdcDatabase = databaseUrl ? borrowed(databaseUrl) : await createTestDatabase(this.label);
    this.envs.set(master.id, {
      ...this.files.env(master.id),
      DATABASE_URL: this.mdcDatabase.url,
      ...this.options.mdcEnv,
    });
    const workSites = this.files.sites.filter((s) => s.role === 'site');
    // settled, not Promise.all: nothing may still be starting when a failure makes `start` stop all
    await settleAll([
      this.launch(master.id),
      ...workSites.map(async (site) => {
        const relay = await TcpRelay.start({ host: '127.0.0.1', port: master.port });
        const ownUrl = this.options.redisUrls?.[site.id];
        const redis = ownUrl
          ? borrowedRedis(ownUrl, site.id)
          : await createTestRedisDb(`${this.label}:${site.id}`).catch(async (err: unknown) => {
              await relay.close();
              throw err;
            });
        this.work.set(site.id, { redis, relay });
        this.files.useOwnConfig(site.id, { [master.id]: relay.url });
        this.envs.set(site.id, {
          ...this.files.env(site.id),
          REDIS_URL: redis.url,
          ...this.options.sdcEnv,
        });
      }),
    ]);
    await settleAll(workSites.map((site) => this.launch(site.id)));
  }

  /** The environment a site's process runs with (e.g. to start a second replica of it). */
  envOf(siteId: string): Record<string, string> {
    return { ...this.envs.get(siteId)! };
  }

  /** Spawns the site's process with its environment and waits until it is ready. */
  private async launch(siteId: string): Promise<SiteProcess> {
    const isMaster = siteId === this.files.master.id;
    const proc = SiteProcess.spawn(
      `${isMaster ? 'mdc' : 'sdc'}(${this.label}:${siteId})`,
      isMaster ? MDC_MAIN : SDC_MAIN,
      this.envs.get(siteId)!,
    );
    this.processes.set(siteId, proc);
    const ready = isMaster
      ? { path: '/health/ready' }
      : (this.options.sdcReady ?? { path: '/health/ready', fallback: '/health/live' });
    await waitReady(proc, ready.path, ready.fallback, this.options.readyTimeoutMs ?? 30_000);
    return proc;
  }

  get master(): string {
    return this.files.master.id;
  }

  /** The work sites' ids, in config order. */
  get workSites(): string[] {
    return this.files.sites.filter((s) => s.role === 'site').map((s) => s.id);
  }

  get mdcDb(): TestDatabase {
    if (!this.mdcDatabase) throw new Error('the cluster has no database (start failed?)');
    return this.mdcDatabase;
  }

  url(siteId: string): string {
    return this.files.site(siteId).url;
  }

  redisUrl(siteId: string): string {
    return this.workSite(siteId).redis.url;
  }

  relay(siteId: string): TcpRelay {
    return this.workSite(siteId).relay;
  }

  /** The site's current process (a new one after `restart`). */
  process(siteId: string): SiteProcess {
    const proc = this.processes.get(siteId);
    if (!proc) throw new Error(`no process for site ${siteId}`);
    return proc;
  }

  /** An admin's view of the site's REST API; the ops token (scope *) unless another is given. */
  admin(siteId: string, token: string = this.files.token): AdminClient {
    return new AdminClient(this.url(siteId), token);
  }

  /** A caller signing as site `as` (with its key), calling site `at` (default the MDC) and signing for it. */
  signedCaller(as: string, at: string = this.master): SiteCaller {
    return new SiteCaller({ id: at, url: this.url(at) }, as, this.files.site(as).privateKey);
  }

  /** POST /api/v1/sync/run: one sync cycle now (SPEC §5); the answer's body (`lastCycle`). */
  async sync(siteId: string): Promise<any> {
    const res = await this.admin(siteId).post('/sync/run', {});
    if (res.status !== 200) throw new Error(`sync at ${siteId}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  }

  /** GET /api/v1/sync/status (SPEC §5). */
  async status(siteId: string): Promise<any> {
    const res = await this.admin(siteId).get('/sync/status');
    if (res.status !== 200) throw new Error(`status at ${siteId}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  }

  /**
   * Runs cycles (POST /sync/run) until one succeeds with the site's queue empty; resolves with that
   * cycle. An unreachable MDC, or a site still coming back, means "not yet"; a cycle failing for any
   * other reason rejects at once.
   */
  async drain(siteId: string, timeoutMs: number): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    let state = '';
    while (Date.now() < deadline) {
      const answer = await (async () => {
        const { lastCycle } = await this.sync(siteId);
        const { queue } = await this.status(siteId);
        return { lastCycle, queue };
      })().catch((err: Error) => ({ down: err.message }));
      if ('down' in answer) state = answer.down;
      else {
        const { lastCycle, queue } = answer;
        if (lastCycle.ok && queue.length === 0) return lastCycle;
        state = `queue ${queue.length} after ${JSON.stringify(lastCycle)}`;
        if (!lastCycle.ok && lastCycle.error !== 'mdc_unreachable')
          throw new Error(`a cycle at ${siteId} failed: ${state}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`${siteId} not drained in ${timeoutMs} ms: ${state}`);
  }

  /**
   * Queues a create of a user per name in `domain` at the site, 1000 per POST /batch (one queue
   * entry per op, as if each came alone); rejects unless every one is answered 201.
   */
  async queueCreates(siteId: string, domain: string, names: string[]): Promise<void> {
    for (let start = 0; start < names.length; start += 1000) {
      const ops = names.slice(start, start + 1000).map((name) => ({
        method: 'POST',
        path: `/domains/${domain}/entities`,
        body: { kind: 'user', name, attributes: { name } },
      }));
      const res = await this.admin(siteId).post('/batch', { ops });
      const refused =
        res.status === 200 ? res.body.results.filter((r: { status: number }) => r.status !== 201) : [];
      if (res.status !== 200 || refused.length > 0)
        throw new Error(`batch at ${siteId}: ${res.status} ${JSON.stringify(refused[0] ?? res.body)}`);
    }
  }

  /**
   * SPEC §6 exactly once: restores the cut-off site's link, starts a cycle, and SIGKILLs the SDC once
   * part of its queue (`queueLength`, read from its Redis) is pushed and the rest is not; then
   * starts it again. Resolves with the queue's length when it was killed.
   */
  async killMidPush(siteId: string, queueLength: () => Promise<number>): Promise<number> {
    const queued = await queueLength();
    this.restore(siteId);
    void this.sync(siteId).catch(() => undefined);
    const shrinking = await waitFor(
      async () => {
        const length = await queueLength();
        return length > 0 && length < queued ? length : undefined;
      },
      20_000,
      5,
    );
    await this.kill(siteId, 'SIGKILL');
    await this.restart(siteId);
    return shrinking;
  }

  /** Cuts the site's link to the MDC: open connections are reset, new ones fail at once. */
  cut(siteId: string): void {
    this.relay(siteId).cut();
  }

  restore(siteId: string): void {
    this.relay(siteId).restore();
  }

  /** Sends the signal and resolves when the process has gone. */
  kill(siteId: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<ExitInfo> {
    return this.process(siteId).kill(signal);
  }

  /** Sends a signal that does not end the process (SIGHUP: reload the config; SIGSTOP / SIGCONT). */
  signal(siteId: string, signal: NodeJS.Signals): void {
    process.kill(this.process(siteId).pid!, signal);
  }

  /**
   * Starts the site again — same port, config, database / Redis database, unless `env` says otherwise
   * (e.g. the MDC on a promoted replica's `DATABASE_URL`) — and waits until it is ready; a process
   * still running is stopped first (SIGTERM, then SIGKILL).
   */
  async restart(siteId: string, env: Record<string, string> = {}): Promise<SiteProcess> {
    await this.process(siteId).stop();
    this.envs.set(siteId, { ...this.envs.get(siteId)!, ...env });
    return this.launch(siteId);
  }

  /** Points the site at another Redis (its next start uses it), e.g. a replica promoted by a failover. */
  useRedis(siteId: string, url: string): void {
    this.workSite(siteId).redis = borrowedRedis(url, siteId);
    this.envs.set(siteId, { ...this.envs.get(siteId)!, REDIS_URL: url });
  }

  /**
   * FLUSHDB on the site's Redis database while it runs — on a Redis Cluster, every key of the site
   * and no other site's: the site's Redis lost its data.
   */
  flushRedis(siteId: string): Promise<void> {
    return this.workSite(siteId).redis.flush();
  }

  /** Rewrites the config (every site's copy) by a rename, e.g. `{ zones }` (SPEC §4 reload). */
  reload(changes: Partial<ClusterFilesOptions>): void {
    this.files.write(changes);
  }

  /** Every process's output, for a failing test's message. */
  logs(): string {
    return [...this.processes].map(([id, p]) => `--- ${id} (pid ${p.pid})\n${p.log}`).join('\n');
  }

  waitFor<T>(
    predicate: () => T | Promise<T>,
    timeoutMs?: number,
    intervalMs?: number,
  ): Promise<NonNullable<T>> {
    return waitFor(predicate, timeoutMs, intervalMs);
  }

  /**
   * Stops every process, closes the relays, frees the Redis databases, drops the database; then
   * rejects if a process failed its stop (its log checked: SiteProcess.stop). Idempotent.
   */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      const stopped = await Promise.allSettled([...this.processes.values()].map((p) => p.stop()));
      await settleAll([
        ...[...this.work.values()].flatMap(({ relay, redis }) => [relay.close(), redis.release()]),
        ...(this.mdcDatabase ? [this.mdcDatabase.drop()] : []),
      ]);
      rmSync(this.files.dir, { recursive: true, force: true });
      // after the clean-up: e.g. a process whose log was not JSON only (SPEC §10) fails the test file
      const failed = stopped.find((s) => s.status === 'rejected');
      if (failed) throw failed.reason;
    })();
    return this.stopped;
  }

  private workSite(siteId: string): WorkSite {
    const site = this.work.get(siteId);
    if (!site) throw new Error(`${siteId} is not a work site of this cluster`);
    return site;
  }
}

/** A database the test owns: the cluster uses it and leaves it to its owner. */
function borrowed(url: string): TestDatabase {
  return { url, name: new URL(url).pathname.slice(1), drop: () => Promise.resolve() };
}

/**
 * A Redis database the test owns: the cluster uses it and leaves it to its owner. A Redis Cluster is
 * shared by sites (SPEC §4: no logical databases), so flushing one site there deletes its keys only.
 */
function borrowedRedis(url: string, siteId: string): TestRedisDb {
  if (url.startsWith('redis-cluster://'))
    return { url, db: 0, flush: () => deleteSiteKeys(url, siteId), release: () => Promise.resolve() };
  return {
    url,
    db: Number(new URL(url).pathname.slice(1) || 0),
    flush: () => Promise.reject(new Error(`${url} belongs to the test: flush it there`)),
    release: () => Promise.resolve(),
  };
}

/** Waits for every promise to settle, then rejects with the first failure if any. */
async function settleAll(work: Array<Promise<unknown>>): Promise<void> {
  const failed = (await Promise.allSettled(work)).find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/**
 * Polls until `predicate` returns a truthy value and resolves with it; a throw counts as "not yet".
 * Rejects after `timeoutMs` with the last value or error.
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  timeoutMs = 10_000,
  intervalMs = 100,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await predicate();
      if (value) return value as NonNullable<T>;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      const why = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`waitFor: not true after ${timeoutMs} ms (last: ${why})`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
