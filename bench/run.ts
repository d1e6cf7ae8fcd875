import { availableParallelism, cpus, loadavg } from 'node:os';
import { withDb } from '../test/harness/domaindb';
import { TestMdc } from '../test/harness/mdc';
import { ClusterScenarios } from './cluster-scenarios';
import { MdcScenarios } from './mdc-scenarios';
import { PullScenarios } from './pull-scenarios';
import { ScaleScenarios } from './scale-scenarios';
import { printTable, Row } from './report';

/**
 * `npm run bench`: first one MDC child process (built `dist/`, as an operator runs it) on a fresh
 * PostgreSQL database, driven over HTTP as sites and admins drive it; then, with that MDC stopped, a
 * whole cluster (MDC + site-a + site-b, each SDC on its own Redis database behind a relay the bench
 * can cut). NestJS 12 is ESM-only, so nothing of @nestjs/* or apps/* is imported here. Prints one
 * table and always exits 0: benchmarks report, they do not fail CI. The run stops measuring at
 * DEADLINE_MS so that, with the build, it stays under about 10 minutes (the scale rows at 1M entities
 * take most of it). `BENCH_ONLY=scale` (or `mdc`, `cluster`, `pull`, comma-separated) runs only those parts.
 */
const DEADLINE_MS = 540_000;
/** `BENCH_SCALE_MAX=100000` stops the scale rows at 100k (a quicker look while working on them). */
const SCALE_MAX = Number(process.env.BENCH_SCALE_MAX ?? 1_000_000);
const ONLY = new Set((process.env.BENCH_ONLY ?? 'mdc,cluster,pull,scale').split(','));

type Step = [string, () => Promise<void>];

async function machineFacts(mdc: TestMdc): Promise<string> {
  const pg = await withDb(mdc.db.url, async (db) => {
    const { rows } = await db.query(`SELECT current_setting('server_version') AS v`);
    return rows[0].v as string;
  });
  return [
    `nproc: ${availableParallelism()} (${cpus()[0]?.model ?? 'unknown cpu'})`,
    `node: ${process.version}`,
    `postgresql: ${pg} (same machine)`,
    // Other work on the machine skews every figure below; say how busy it was.
    `load average at start: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  ].join('\n');
}

/** Runs the steps in order; a failing step becomes an error row and the next one still runs. */
async function runSteps(steps: Step[], rows: Row[]): Promise<void> {
  for (const [name, step] of steps) {
    try {
      await step();
    } catch (err) {
      rows.push({
        metric: name,
        measured: `error: ${(err as Error).message.slice(0, 200)}`,
        target: '',
        ok: false,
      });
    }
  }
}

async function measureMdc(mdc: TestMdc, rows: Row[]): Promise<void> {
  const bench = new MdcScenarios(mdc, rows);
  await bench.setUp();
  await runSteps(
    [
      ['push creates', () => bench.pushCreates()],
      ['push updates 10×1000', () => bench.pushUpdatesToOneEntity(10, 1000)],
      ['push updates 100×100', () => bench.pushUpdatesToOneEntity(100, 100)],
      ['pull', () => bench.pull10k()],
      ['manifest', () => bench.manifestRoot(200)],
      ['signal', () => bench.signalLatency(100)],
      ['admin sequential', () => bench.adminWriteLatency(500)],
    ],
    rows,
  );
}

async function measureCluster(bench: ClusterScenarios, rows: Row[]): Promise<void> {
  await bench.setUp();
  await runSteps(
    [
      ['cross-site visibility', () => bench.crossSiteVisibility(100)],
      ['SDC sequential', () => bench.localWriteLatency(500)],
      ['queue drain', () => bench.queueDrain(10_000)],
      ['proxy overhead', () => bench.proxyOverhead(200)],
      ['request path', () => bench.requestPath(3000)],
    ],
    rows,
  );
}

async function measurePull(bench: PullScenarios, rows: Row[]): Promise<void> {
  await bench.setUp();
  await runSteps([['pull catch-up', () => bench.catchUp(20_000, 20)]], rows);
}

async function measureScale(bench: ScaleScenarios, rows: Row[]): Promise<void> {
  await bench.setUp();
  await runSteps(
    [
      ['scale 10k', () => bench.at(10_000, 20)],
      ['scale 100k', () => bench.at(100_000, 20)],
      ...(SCALE_MAX >= 1_000_000
        ? ([
            ['scale 1M', () => bench.at(1_000_000, 20)],
            ['repair one entity in 1M', () => bench.repairOne()],
          ] satisfies Step[])
        : []),
    ],
    rows,
  );
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  let mdc: TestMdc | undefined;
  let cluster: ClusterScenarios | undefined;
  let pull: PullScenarios | undefined;
  let scale: ScaleScenarios | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stage = 'starting';
  // Stops whatever still runs; idempotent (TestMdc.stop is not, so it is remembered).
  let mdcStopped: Promise<void> | undefined;
  const stopMdc = () => (mdcStopped ??= mdc?.stop() ?? Promise.resolve());
  const stopAll = () =>
    Promise.allSettled([
      stopMdc(),
      cluster?.running.stop(),
      pull?.running.stop(),
      scale?.running.stop(),
    ]).then((results) => {
      for (const r of results)
        if (r.status === 'rejected') console.error(`stopping: ${(r.reason as Error).message}`);
    });
  // Ctrl-C: still stop the children and drop their databases.
  process.once('SIGINT', () => void stopAll().finally(() => process.exit(130)));
  try {
    mdc = await TestMdc.start('bench');
    console.log(await machineFacts(mdc));
    console.log('');
    const deadline = new Promise<'deadline'>((resolve) => {
      timer = setTimeout(() => resolve('deadline'), DEADLINE_MS);
    });
    const work = (async () => {
      if (ONLY.has('mdc')) {
        stage = 'MDC rows';
        await measureMdc(mdc, rows);
      }
      // The clusters have an MDC of their own; this one would only sit beside them.
      await stopMdc();
      if (ONLY.has('cluster')) {
        stage = 'cluster start';
        cluster = await ClusterScenarios.start(rows);
        stage = 'cluster rows';
        await measureCluster(cluster, rows);
        await cluster.running.stop();
      }
      // Clusters of their own, so the site's cache holds exactly what the rows say.
      if (ONLY.has('pull')) {
        stage = 'pull cluster start';
        pull = await PullScenarios.start(rows);
        stage = 'pull rows';
        await measurePull(pull, rows);
        await pull.running.stop();
      }
      if (ONLY.has('scale')) {
        stage = 'scale cluster start';
        scale = await ScaleScenarios.start(rows);
        stage = 'scale rows';
        await measureScale(scale, rows);
        await scale.running.stop();
      }
    })();
    work.catch(() => undefined);
    const outcome = await Promise.race([work.then(() => 'done' as const), deadline]).catch((err: Error) => {
      rows.push({ metric: stage, measured: `error: ${err.message.slice(0, 200)}`, target: '', ok: false });
      return 'failed' as const;
    });
    if (outcome === 'deadline') {
      rows.push({
        metric: `stopped at ${DEADLINE_MS / 1000} s (in: ${stage})`,
        measured: 'later rows not measured',
        target: '',
        ok: false,
      });
    }
  } catch (err) {
    console.error(`benchmark could not run: ${(err as Error).stack ?? err}`);
  } finally {
    clearTimeout(timer);
    printTable(rows);
    await stopAll();
  }
}

main().finally(() => process.exit(0));
