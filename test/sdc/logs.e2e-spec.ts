import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestCluster } from '../harness/cluster';

/** Preloaded into the MDC: a process warning (as Fastify's FSTWRN004 was) on SIGUSR2, after start-up. */
const WARN_ON_SIGUSR2 = `process.on('SIGUSR2', () =>
  process.emitWarning('It seems that you are overriding an errorHandler', 'FastifyWarning', 'FSTWRN004'));`;

/**
 * SPEC §10 as an operator reads the logs: JSON lines only (the harness checks every line of every
 * process when it stops), each naming the site; a request's lines carry its id; start-up, reload,
 * cycle failures and shutdown each logged.
 */
describe('site logs (SPEC §10)', () => {
  let cluster: TestCluster;
  const preloads = mkdtempSync(join(tmpdir(), 'dd-logs-'));

  beforeAll(async () => {
    writeFileSync(join(preloads, 'warn.js'), WARN_ON_SIGUSR2);
    cluster = await TestCluster.start('sdc-logs', {
      sites: ['master', 'site-a'],
      zones: [{ domain: 'acme', sites: ['site-a'] }],
      mdcEnv: { LOG_LEVEL: 'info', NODE_OPTIONS: `--require ${join(preloads, 'warn.js')}` },
      sdcEnv: { LOG_LEVEL: 'info', SYNC_INTERVAL_MS: '600000' },
    });
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
    rmSync(preloads, { recursive: true, force: true });
  });

  /** The site's log lines so far, parsed. */
  const lines = (site: string): Array<Record<string, any>> =>
    cluster
      .process(site)
      .log.split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line));

  /** Waits until the site has logged a line matching `match`, and answers it. */
  const logged = (site: string, match: (line: Record<string, any>) => boolean) =>
    cluster.waitFor(() => lines(site).find(match), 5000);

  it('logs the start of each site as one line: site, role, port', async () => {
    for (const [site, role] of [
      ['master', 'master'],
      ['site-a', 'site'],
    ]) {
      const start = await logged(site, (l) => l.msg.startsWith('listening'));
      expect(start).toMatchObject({ site, role, port: Number(new URL(cluster.url(site)).port) });
    }
  });

  it("logs a request with method, route, status and time, and the request's id on every line written for it", async () => {
    const id = randomUUID();
    // unsigned: the MDC's guard refuses it with a warning, written while the request is handled
    const res = await fetch(`${cluster.url('master')}/sync/v1/pull`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': id },
      body: JSON.stringify({ cursor: '0' }),
    });
    expect(res.status).toBe(401);
    await logged('master', (l) => l.reqId === id && l.msg === 'request completed');
    const mine = lines('master').filter((l) => l.reqId === id);
    expect(mine).toEqual([
      expect.objectContaining({ site: 'master', context: 'SiteCallGuard', level: 40 }),
      expect.objectContaining({
        site: 'master',
        msg: 'request completed',
        method: 'POST',
        route: '/sync/v1/pull',
        statusCode: 401,
        responseTimeMs: expect.any(Number),
      }),
    ]);
  });

  it('logs a config reload', async () => {
    cluster.reload({
      zones: [
        { domain: 'acme', sites: ['site-a'] },
        { domain: 'globex', sites: ['site-a'] },
      ],
    });
    for (const site of ['master', 'site-a'])
      expect(await logged(site, (l) => / reloaded$/.test(l.msg))).toMatchObject({
        site,
        context: 'ClusterConfig',
      });
  });

  it('logs a cycle that failed, saying why', async () => {
    cluster.cut('site-a');
    try {
      expect((await cluster.sync('site-a')).lastCycle).toMatchObject({ ok: false, error: 'mdc_unreachable' });
    } finally {
      cluster.restore('site-a');
    }
    expect(await logged('site-a', (l) => l.msg === 'sync cycle failed: mdc_unreachable')).toMatchObject({
      site: 'site-a',
      level: 40,
      context: 'SyncCycle',
      error: 'mdc_unreachable',
    });
  });

  it("logs a process warning as a JSON line, not Node's text", async () => {
    cluster.signal('master', 'SIGUSR2');
    expect(await logged('master', (l) => l.context === 'process')).toMatchObject({
      site: 'master',
      level: 40,
      msg: 'It seems that you are overriding an errorHandler',
      err: { name: 'FastifyWarning', code: 'FSTWRN004' },
    });
  });

  it('logs a SIGTERM shutdown: the signal when it arrives, then the close — the MDC too, with a site on its signal stream', async () => {
    // The master first: site-a holds its change-signal stream open, which must not hold the close up
    // (the harness would end it with SIGKILL after its grace, and the exit would say so).
    await cluster.waitFor(async () => (await cluster.status('site-a')).signalConnected || undefined, 10_000);
    for (const site of ['master', 'site-a']) {
      const exit = await cluster.process(site).stop();
      expect(exit).toEqual({ code: null, signal: 'SIGTERM' });
      const written = lines(site);
      const received = written.findIndex((l) => l.msg === 'SIGTERM received: shutting down');
      expect(received).toBeGreaterThanOrEqual(0);
      expect(written[received]).toMatchObject({ site, signal: 'SIGTERM' });
      // a cycle meeting the closing stores may log in between; the close is the last line
      expect(written[written.length - 1]).toMatchObject({ site, signal: 'SIGTERM', msg: 'shut down' });
    }
  });
});
