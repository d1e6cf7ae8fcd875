import { type Command, InvalidArgumentError } from 'commander';
import { ApiClient, ApiRefusedError, refusalOf } from './api-client';
import { Context, contextOf, positiveIntOption, print, printJson } from './context';
import { CliError, EXIT } from './exit-codes';
import {
  ClusterSite,
  ClusterStatus,
  probeUrl,
  SiteView,
  staleSites,
  statusSummary,
  statusTable,
  SyncStatus,
} from './status';
import { list, ListOptions, listOptions } from './listing';
import { auditTable, fields, rejectionsTable } from './tables';

/** How long `status` waits for each site's own /sync/status. */
const PROBE_TIMEOUT_MS = 2000;

/** A site's own view (SPEC §5 `GET /sync/status`), asked at `url` (see `probeUrl`). */
async function withSyncStatus(site: ClusterSite, url: string, token: string | undefined): Promise<SiteView> {
  try {
    const client = new ApiClient(url, token);
    const syncStatus = await client.ok<SyncStatus>('GET', '/sync/status', { timeoutMs: PROBE_TIMEOUT_MS });
    return { ...site, syncStatus };
  } catch (err) {
    return { ...site, syncStatus: null, syncStatusError: (err as Error).message };
  }
}

async function clusterStatus(ctx: Context): Promise<ClusterStatus> {
  try {
    return await ctx.client.ok<ClusterStatus>('GET', '/cluster/status');
  } catch (err) {
    if (err instanceof ApiRefusedError && err.refusal.status === 404)
      throw new CliError(
        `${err.message}\n  status reads GET /api/v1/cluster/status, which only the MDC serves: point --site at the master site`,
        EXIT.usage,
      );
    throw err;
  }
}

/** `--probe-url site=url`, repeatable: each site's URL for `status` to ask. */
function probeUrlOption(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const at = value.indexOf('=');
  const url = value.slice(at + 1);
  if (at < 1 || !URL.canParse(url))
    throw new InvalidArgumentError('not site=url (site-a=http://127.0.0.1:4001)');
  return { ...previous, [value.slice(0, at)]: url };
}

/** SPEC §10: `status`, `rejections`, `audit`, `sync run|status`. */
export function opsCommands(program: Command): void {
  program
    .command('status')
    .summary('every site at a glance (MDC); exit 1 when a site is stale')
    .description(
      "every site at a glance, from the MDC's /cluster/status (--site must be the master site) and each " +
        "site's own /sync/status (zones, queue, MDC reachability; '?' when the site cannot be reached), " +
        "asked at --site for the master and at the config's URL for a work site, unless --probe-url names " +
        'another (e.g. from the host, when the config names compose services). ' +
        'Exits 1 when the MDC calls a site stale: a work site that has not pushed or pulled for ' +
        "`staleAfterMs` (2 sync intervals + 5 s). --json: the MDC's answer, each site with `syncStatus` " +
        '(its own answer, or null and `syncStatusError`)',
    )
    .option('--probe-url <site=url>', "ask this site's /sync/status at this URL (repeatable)", probeUrlOption)
    .action(async (opts: { probeUrl?: Record<string, string> }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const status = await clusterStatus(ctx);
      const overrides = opts.probeUrl ?? {};
      const unknown = Object.keys(overrides).filter((id) => !status.sites.some((s) => s.site === id));
      if (unknown.length > 0)
        throw new CliError(`--probe-url names no site of the cluster: ${unknown.join(', ')}`, EXIT.usage);
      const sites: SiteView[] = await Promise.all(
        status.sites.map((site) =>
          withSyncStatus(site, probeUrl(site, ctx.client.site, overrides), ctx.token),
        ),
      );
      if (ctx.json) printJson({ ...status, sites });
      else {
        const now = Date.now();
        print(statusTable(sites, now));
        print(statusSummary(status, sites, now).join('\n'));
      }
      const stale = staleSites(status.sites);
      if (stale.length > 0) throw new CliError(`stale: ${stale.join(', ')}`, EXIT.refused);
    });

  program
    .command('rejections')
    .summary('the changes the MDC refused from this work site')
    .description(
      "the changes the MDC refused from this work site, newest first (the site's /sync/rejections)",
    )
    .option('--limit <n>', 'at most this many', positiveIntOption)
    .action(async (opts: { limit?: number }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const answer = await ctx.client.ok<{ items: never[] }>('GET', '/sync/rejections', {
        query: { limit: opts.limit },
      });
      if (ctx.json) printJson(answer);
      else print(rejectionsTable(answer.items));
    });

  listOptions(
    program
      .command('audit')
      .summary('applied changes, newest first (MDC)')
      .description(
        "applied changes, newest first: who, from which site, when, what, version (the MDC's /audit; " +
          '--after and --all page it where the MDC pages its audit)',
      )
      .option('--domain <name>', 'only the changes of this domain'),
  ).action(async (opts: ListOptions & { domain?: string }, cmd: Command) => {
    await list(contextOf(cmd), '/audit', { domain: opts.domain }, opts, auditTable);
  });

  const sync = program.command('sync').description("a work site's sync cycle: run, status");
  sync
    .command('run')
    .summary('run one sync cycle now and wait for it')
    .description(
      'run one sync cycle at the site now and wait for it; exits 1 if the cycle failed ' +
        '(e.g. mdc_unreachable), 0 if it is still running at the deadline (it goes on)',
    )
    .option('--timeout-ms <ms>', 'how long the site waits for the cycle (default 120000)', positiveIntOption)
    .action(async (opts: { timeoutMs?: number }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const answer = await ctx.client.call('POST', '/sync/run', { query: { timeoutMs: opts.timeoutMs } });
      if (answer.status >= 400) throw new ApiRefusedError(refusalOf(answer));
      if (ctx.json) printJson(answer.body);
      if (answer.status === 202) {
        if (!ctx.json) print(`still running: ${JSON.stringify(answer.body)}`);
        return;
      }
      const { lastCycle } = answer.body as { lastCycle: { ok: boolean; error?: string | null } };
      if (!ctx.json) print(fields(lastCycle));
      if (!lastCycle.ok) throw new CliError(`the cycle failed: ${lastCycle.error}`, EXIT.refused);
    });

  sync
    .command('status')
    .summary("this site's own sync state: queue, MDC reachability, last cycle")
    .description("the site's queue, MDC reachability, last push / resync / cycle, served zones")
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const answer = await ctx.client.ok('GET', '/sync/status');
      if (ctx.json) printJson(answer);
      else print(fields(answer as Record<string, unknown>));
    });
}
