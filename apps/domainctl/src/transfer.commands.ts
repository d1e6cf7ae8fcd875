import { once } from 'node:events';
import { createWriteStream, readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import type { Command } from 'commander';
import { Answer, ApiClient, ApiRefusedError, domainPath, entitiesPath, pages, refusalOf } from './api-client';
import { contextOf, print, printJson } from './context';
import { CliError, EXIT } from './exit-codes';
import { Progress, progressBar } from './progress';
import {
  chunkOps,
  domainLine,
  entityLine,
  ImportSummary,
  PlannedOp,
  planImport,
  refusedOps,
  summaryLines,
  TransferLine,
} from './transfer';

/** SPEC §5: the answer header of a write at a work site (`pending`: queued for the MDC). */
const HEADER_SYNC_STATE = 'x-sync-state';

type DomainObject = Extract<TransferLine, { type: 'domain' }>;
type EntityObject = Extract<TransferLine, { type: 'entity' }>;

/** How often a batch refused whole for a passing reason (429 `rate_limited`, 503) is sent again. */
export const BATCH_RETRIES = 5;
/** The wait before a retry when the answer names none (`Retry-After`, in seconds). */
const DEFAULT_RETRY_AFTER_MS = 1000;

export interface ImportDeps {
  /** how the import waits out a `Retry-After` (tests pass one that does not) */
  sleep: (ms: number) => Promise<void>;
  retries: number;
}

const realTime: ImportDeps = { sleep: (ms) => delay(ms), retries: BATCH_RETRIES };

export interface ImportRun {
  summary: ImportSummary;
  /** why the import stopped before the end of the file, if it did */
  stopped?: CliError;
  /** a batch answered `X-Sync-State: pending`: the site took the lines, the MDC has not judged them */
  pending: boolean;
}

/**
 * SPEC §5 `POST /batch`: every op of the file, in `planImport`'s order, ≤ 1000 a request; refusals
 * by line. A batch refused whole with 429 or 503 is sent again after its `Retry-After`, up to
 * `retries` times; past that, or on any other whole refusal or a lost connection, the import stops
 * with what it did so far.
 */
export async function importFile(
  client: Pick<ApiClient, 'call'>,
  text: string,
  progress: Progress,
  deps: ImportDeps = realTime,
): Promise<ImportRun> {
  const { ops, refusals } = planImport(text);
  const run: ImportRun = {
    summary: { lines: ops.length + refusals.length, applied: 0, refused: [...refusals] },
    pending: false,
  };
  const { summary } = run;
  let done = 0;
  const show = (note = '') =>
    progress.show(progressBar(done, ops.length, `ops  ${summary.refused.length} refused${note}`));
  show();
  try {
    for (const chunk of chunkOps(ops)) {
      const answer = await sendBatch(client, chunk, deps, (note) => show(note));
      run.pending ||= answer.headers?.get(HEADER_SYNC_STATE) === 'pending';
      const { results } = (answer.body ?? {}) as { results?: Array<{ status: number; body: unknown }> };
      const refused = refusedOps(chunk, results ?? []);
      summary.refused.push(...refused);
      summary.applied += chunk.length - refused.length;
      done += chunk.length;
      show();
    }
  } catch (err) {
    if (!(err instanceof CliError)) throw err;
    summary.unsent = ops.length - done;
    run.stopped = err;
  } finally {
    progress.done();
  }
  return run;
}

/** One batch's answer, sent again while it is refused whole for a passing reason. */
async function sendBatch(
  client: Pick<ApiClient, 'call'>,
  chunk: PlannedOp[],
  deps: ImportDeps,
  note: (text: string) => void,
): Promise<Answer> {
  const at = `the batch of ${chunk.length} ops from line ${chunk[0].line}`;
  for (let retry = 0; ; retry++) {
    let answer: Answer;
    try {
      answer = await client.call('POST', '/batch', { body: { ops: chunk.map((p) => p.op) } });
    } catch (err) {
      const e = err as CliError;
      throw new CliError(
        `${e.message}
  ${at} may or may not have been applied: importing the file again ` +
          'answers already_exists for the lines that were',
        e.exitCode,
      );
    }
    if (answer.status < 400) return answer;
    const refused = new ApiRefusedError(refusalOf(answer));
    if (!PASSING_REFUSALS.has(answer.status) || retry === deps.retries) {
      const tries = retry > 0 ? ` (sent ${retry + 1} times)` : '';
      throw new CliError(
        `${refused.message}
  ${at} was refused whole${tries}; stopped there`,
        EXIT.refused,
      );
    }
    const wait = retryAfterMs(answer.headers);
    note(`  ${refused.refusal.code}: retry ${retry + 1} of ${deps.retries} in ${wait / 1000} s`);
    await deps.sleep(wait);
  }
}

/** SPEC §5: 429 `rate_limited`, 503 `queue_full` / `store_unavailable` pass (they carry `Retry-After`). */
const PASSING_REFUSALS = new Set([429, 503]);

/** `Retry-After` in seconds (SPEC §5), else 1 s. */
export function retryAfterMs(headers: Headers | undefined): number {
  const value = headers?.get('retry-after')?.trim();
  return value && /^\d+(\.\d+)?$/.test(value) ? Number(value) * 1000 : DEFAULT_RETRY_AFTER_MS;
}

/**
 * Whether writes at this site wait for a sync cycle to meet the MDC's rules: `X-Sync-State: pending`
 * answered, or the site's `/sync/status` says it is a work site.
 */
async function judgedLater(client: ApiClient, run: ImportRun): Promise<boolean> {
  if (run.pending) return true;
  try {
    const own = await client.ok<{ role?: string }>('GET', '/sync/status', { timeoutMs: 2000 });
    return own.role !== undefined && own.role !== 'master';
  } catch {
    return false;
  }
}

/** The reader of the output went away (`export … | head`): the export ends quietly, exit 0, as other CLIs do. */
export class ReaderGone extends Error {}

/** Writes NDJSON lines with backpressure; a write error ends the export (EPIPE: the reader left). */
export class LineWriter {
  lines = 0;
  private failure: NodeJS.ErrnoException | undefined;
  private readonly failed: Promise<never>;

  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly target: string,
  ) {
    this.failed = new Promise((_, reject) =>
      out.on('error', (err: NodeJS.ErrnoException) => {
        this.failure ??= err;
        reject(this.error());
      }),
    );
    this.failed.catch(() => undefined);
  }

  /** Waits for the stream to open (a file), so a bad path fails before any API call. */
  async opened(): Promise<void> {
    await Promise.race([once(this.out, 'open'), this.failed]);
  }

  async write(lines: string[]): Promise<void> {
    if (this.failure) throw this.error();
    if (lines.length === 0) return;
    this.lines += lines.length;
    if (!this.out.write(`${lines.join('\n')}\n`)) await Promise.race([once(this.out, 'drain'), this.failed]);
  }

  async end(): Promise<void> {
    if (this.failure) throw this.error();
    this.out.end();
    await Promise.race([once(this.out, 'finish'), this.failed]);
  }

  private error(): Error {
    const err = this.failure as NodeJS.ErrnoException;
    return err.code === 'EPIPE'
      ? new ReaderGone()
      : new CliError(`cannot write ${this.target}: ${err.message}`, EXIT.usage);
  }
}

/** The domain's line, its entities' (paged by `after`), then each child's the same way with `recursive`. */
async function exportDomain(
  client: ApiClient,
  name: string,
  recursive: boolean,
  out: LineWriter,
  progress: Progress,
): Promise<void> {
  await out.write([domainLine(await client.ok<DomainObject>('GET', domainPath(name)))]);
  for await (const page of pages<EntityObject>(client, entitiesPath(name), { limit: 1000 })) {
    await out.write(page.items.map(entityLine));
    progress.show(`exported ${out.lines} lines`);
  }
  if (!recursive) return;
  for await (const page of pages<{ name: string }>(client, '/domains', { parent: name, limit: 1000 }))
    for (const child of page.items) await exportDomain(client, child.name, true, out, progress);
}

/** SPEC §10: `import FILE`, `export DOMAIN` (NDJSON; `export`'s output is what `import` reads). */
export function transferCommands(program: Command): void {
  program
    .command('import <file>')
    .summary('create the domains and entities of an NDJSON file through POST /batch')
    .description(
      'create the domains and entities of an NDJSON file (- for stdin), one per line, as `export` writes them: ' +
        '{"type":"domain","name","parent","settings"} or {"type":"entity","domain","kind","name","attributes"}. ' +
        'Sent in file order (a line listed before the domain it needs moves after it) through POST /batch, ' +
        `at most 1000 ops a request; a batch refused whole with 429 or 503 is sent again after its ` +
        `Retry-After (1 s if none), at most ${BATCH_RETRIES} times, then the import stops. A progress bar on ` +
        'stderr when it is a terminal; a summary of the refused lines at the end (also when it stops early: ' +
        'what was applied, refused and not sent), and exit 1 if any was refused (2 if the site was lost). ' +
        'At a work site the MDC judges the lines later: see `sync run` and `rejections`',
    )
    .action(async (file: string, _opts: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const text = readFileSync(file === '-' ? 0 : file, 'utf8');
      const run = await importFile(ctx.client, text, new Progress());
      const { summary } = run;
      // the summary first, also when it stopped: it says where to resume
      if (ctx.json) printJson(summary);
      else print(summaryLines(summary).join('\n'));
      if (summary.applied > 0 && !ctx.waitForMdc && (await judgedLater(ctx.client, run)))
        process.stderr.write(
          'domainctl: this is a work site: the lines were taken here, and the MDC judges them in the next ' +
            'sync cycle; run `domainctl sync run`, then `domainctl rejections` to see any it refused ' +
            '(or import with --wait-for-mdc)\n',
        );
      if (run.stopped) throw run.stopped;
      if (summary.refused.length > 0)
        throw new CliError(`${summary.refused.length} of ${summary.lines} lines refused`, EXIT.refused);
    });

  program
    .command('export <domain>')
    .summary('write a domain and its entities as NDJSON that import reads')
    .description(
      'write a domain and its entities as NDJSON (the format `import` reads), paging the list endpoints; ' +
        'always NDJSON, with or without --json',
    )
    .option('--recursive', 'with every descendant domain and its entities, parents first')
    .option('-o, --output <file>', 'write to this file instead of stdout')
    .action(async (domain: string, opts: { recursive?: boolean; output?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const stream = opts.output ? createWriteStream(opts.output) : process.stdout;
      const out = new LineWriter(stream, opts.output ?? 'stdout');
      // NDJSON on the terminal itself would be torn by the progress line
      const progress = new Progress(opts.output !== undefined || !process.stdout.isTTY);
      try {
        if (opts.output) await out.opened();
        await exportDomain(ctx.client, domain, opts.recursive === true, out, progress);
        if (opts.output) await out.end();
      } catch (err) {
        if (err instanceof ReaderGone) return;
        if (opts.output) stream.destroy();
        throw err;
      } finally {
        progress.done();
      }
      if (opts.output) process.stderr.write(`exported ${out.lines} lines to ${opts.output}\n`);
    });
}
