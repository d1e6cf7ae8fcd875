import { availableParallelism, cpus, loadavg } from 'node:os';
import { withDb } from '../test/harness/domaindb';
import { TestMdc } from '../test/harness/mdc';
import { MdcScenarios } from './mdc-scenarios';
import { printTable, Row } from './report';

/**
 * `npm run bench`: one MDC child process (built `dist/`, as an operator runs it) on a fresh
 * PostgreSQL database, driven over HTTP as sites and admins drive it. NestJS 12 is ESM-only, so
 * nothing of @nestjs/* or apps/* is imported here. Prints one table and always exits 0: benchmarks
 * report, they do not fail CI. The run stops measuring at DEADLINE_MS so it stays well under 3 minutes.
 */
const DEADLINE_MS = 150_000;

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

async function measure(mdc: TestMdc, rows: Row[]): Promise<void> {
  const bench = new MdcScenarios(mdc, rows);
  await bench.setUp();
  const steps: Array<[string, () => Promise<void>]> = [
    ['push creates', () => bench.pushCreates()],
    ['push updates 10×1000', () => bench.pushUpdatesToOneEntity(10, 1000)],
    ['push updates 100×100', () => bench.pushUpdatesToOneEntity(100, 100)],
    ['pull', () => bench.pull10k()],
    ['manifest', () => bench.manifestRoot(200)],
    ['signal', () => bench.signalLatency(100)],
    ['admin sequential', () => bench.adminWriteLatency(500)],
    ['admin concurrent', () => bench.adminWriteThroughput(20, 5000)],
  ];
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

async function main(): Promise<void> {
  const rows: Row[] = [];
  let mdc: TestMdc | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    mdc = await TestMdc.start('bench');
    const started = mdc;
    // Ctrl-C: still stop the child and drop its database.
    process.once('SIGINT', () => void started.stop().finally(() => process.exit(130)));
    console.log(await machineFacts(mdc));
    console.log('');
    const deadline = new Promise<'deadline'>((resolve) => {
      timer = setTimeout(() => resolve('deadline'), DEADLINE_MS);
    });
    const work = measure(mdc, rows);
    work.catch(() => undefined);
    if ((await Promise.race([work, deadline])) === 'deadline') {
      rows.push({
        metric: `stopped at ${DEADLINE_MS / 1000} s`,
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
    await mdc?.stop().catch((err) => console.error(`stopping the MDC: ${(err as Error).message}`));
  }
}

main().finally(() => process.exit(0));
