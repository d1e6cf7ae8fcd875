import { once } from 'node:events';
import { createWriteStream, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ApiClient, ApiRefusedError, domainPath, entitiesPath, pages } from './api-client';
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

type DomainObject = Extract<TransferLine, { type: 'domain' }>;
type EntityObject = Extract<TransferLine, { type: 'entity' }>;

/** SPEC §5 `POST /batch`: every op of the file, in order, ≤ 1000 a request; refusals by line. */
async function importFile(client: ApiClient, text: string, progress: Progress): Promise<ImportSummary> {
  const { ops, refusals } = planImport(text);
  const summary: ImportSummary = { lines: ops.length + refusals.length, applied: 0, refused: [...refusals] };
  let done = 0;
  const show = () => progress.show(progressBar(done, ops.length, `ops  ${summary.refused.length} refused`));
  show();
  for (const chunk of chunkOps(ops)) {
    const answer = await client
      .ok<{ results: Array<{ status: number; body: unknown }> }>('POST', '/batch', {
        body: { ops: chunk.map((p) => p.op) },
      })
      .catch((err: unknown) => {
        progress.done();
        throw err instanceof ApiRefusedError ? batchRefused(err, chunk, summary) : err;
      });
    const refused = refusedOps(chunk, answer.results);
    summary.refused.push(...refused);
    summary.applied += chunk.length - refused.length;
    done += chunk.length;
    show();
  }
  progress.done();
  return summary;
}

/** A whole batch refused (401, 413, 429…): stop, saying which lines were sent and which were not. */
function batchRefused(err: ApiRefusedError, chunk: PlannedOp[], summary: ImportSummary): CliError {
  const lines = `lines ${chunk[0].line}–${chunk[chunk.length - 1].line}`;
  return new CliError(
    `${err.message}\n  the batch of ${lines} was refused whole; stopped there ` +
      `(${summary.applied} lines before it applied, ${summary.refused.length} refused)`,
    EXIT.refused,
  );
}

/** Writes NDJSON lines with backpressure. */
class LineWriter {
  lines = 0;
  constructor(private readonly out: NodeJS.WritableStream) {}

  async write(lines: string[]): Promise<void> {
    if (lines.length === 0) return;
    this.lines += lines.length;
    if (!this.out.write(`${lines.join('\n')}\n`)) await once(this.out, 'drain');
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
        'Sent in file order through POST /batch, at most 1000 ops a request; a progress bar on stderr when it ' +
        'is a terminal; a summary of the refused lines at the end, and exit 1 if any was refused',
    )
    .action(async (file: string, _opts: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const text = readFileSync(file === '-' ? 0 : file, 'utf8');
      const summary = await importFile(ctx.client, text, new Progress());
      if (ctx.json) printJson(summary);
      else print(summaryLines(summary).join('\n'));
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
      const out = new LineWriter(stream);
      // NDJSON on the terminal itself would be torn by the progress line
      const progress = new Progress(opts.output !== undefined || !process.stdout.isTTY);
      try {
        await exportDomain(ctx.client, domain, opts.recursive === true, out, progress);
      } finally {
        progress.done();
        if (opts.output) {
          stream.end();
          await once(stream, 'finish');
        }
      }
      if (opts.output) process.stderr.write(`exported ${out.lines} lines to ${opts.output}\n`);
    });
}
