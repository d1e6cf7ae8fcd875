import { PassThrough, Writable } from 'node:stream';
import { Answer, ApiClient, CallOptions } from './api-client';
import { CliError, EXIT } from './exit-codes';
import { Progress } from './progress';
import { entityLine } from './transfer';
import { BATCH_RETRIES, importFile, LineWriter, ReaderGone, retryAfterMs } from './transfer.commands';

/** 2500 entity lines: three batches of 1000, 1000 and 500 ops. */
const FILE = Array.from({ length: 2500 }, (_, i) =>
  entityLine({ domain: 'acme', kind: 'user', name: `u${i}`, attributes: {} }),
).join('\n');

const applied = (body: unknown): Answer => {
  const { ops } = body as { ops: unknown[] };
  return { status: 200, body: { results: ops.map(() => ({ status: 201, body: {} })) } };
};
const refusedWhole = (status: number, code: string, retryAfter?: string): Answer => ({
  status,
  body: { statusCode: status, code, message: code },
  headers: new Headers(retryAfter === undefined ? {} : { 'retry-after': retryAfter }),
});

/**
 * A site that answers each `POST /batch` with the next scripted answer (a function of the body, an
 * answer, or an error to throw), and fails the test on any other call.
 */
function fakeSite(script: Array<Answer | Error | typeof applied>) {
  const sent: number[] = [];
  const client: Pick<ApiClient, 'call'> = {
    call: (method: string, path: string, options: CallOptions = {}) => {
      if (method !== 'POST' || path !== '/batch') throw new Error(`unexpected ${method} ${path}`);
      const next = script.shift();
      if (next === undefined) throw new Error('more batches than the test scripted');
      sent.push((options.body as { ops: unknown[] }).ops.length);
      if (next instanceof Error) return Promise.reject(next);
      return Promise.resolve(typeof next === 'function' ? next(options.body) : next);
    },
  };
  const slept: number[] = [];
  const deps = { sleep: (ms: number) => Promise.resolve(void slept.push(ms)), retries: BATCH_RETRIES };
  return { client, sent, slept, deps };
}

const quiet = new Progress(false);

describe('import through POST /batch, a batch refused whole', () => {
  it('sends a batch refused with 429 or 503 again after its Retry-After (1 s when none), then goes on', async () => {
    const site = fakeSite([
      applied,
      refusedWhole(429, 'rate_limited', '3'),
      refusedWhole(503, 'queue_full'),
      refusedWhole(503, 'store_unavailable', '2'),
      applied,
      applied,
    ]);
    const run = await importFile(site.client, FILE, quiet, site.deps);
    expect(site.sent).toEqual([1000, 1000, 1000, 1000, 1000, 500]);
    expect(site.slept).toEqual([3000, 1000, 2000]);
    expect(run).toEqual({ summary: { lines: 2500, applied: 2500, refused: [] }, pending: false });
  });

  it(`stops after ${BATCH_RETRIES} retries, with what was applied and what was not sent`, async () => {
    const site = fakeSite([
      applied,
      ...Array(BATCH_RETRIES + 1).fill(refusedWhole(429, 'rate_limited', '1')),
    ]);
    const run = await importFile(site.client, FILE, quiet, site.deps);
    expect(site.slept).toEqual(Array(BATCH_RETRIES).fill(1000));
    expect(run.summary).toEqual({ lines: 2500, applied: 1000, refused: [], unsent: 1500 });
    expect(run.stopped?.exitCode).toBe(EXIT.refused);
    expect(run.stopped?.message).toMatch(
      /^rate_limited \(429\): rate_limited\n {2}the batch of 1000 ops from line 1001 was refused whole \(sent 6 times\); stopped there$/,
    );
  });

  it('stops at once on a refusal that does not pass (413, 401…)', async () => {
    const site = fakeSite([refusedWhole(413, 'payload_too_large')]);
    const run = await importFile(site.client, FILE, quiet, site.deps);
    expect(site.slept).toEqual([]);
    expect(run.summary).toMatchObject({ applied: 0, unsent: 2500 });
    expect(run.stopped?.message).toContain('payload_too_large (413)');
  });

  it('stops with exit 2 when the site is lost, saying the batch may have been applied', async () => {
    const lost = new CliError('cannot reach http://h:1: ECONNRESET', EXIT.usage);
    const site = fakeSite([applied, applied, lost]);
    const run = await importFile(site.client, FILE, quiet, site.deps);
    expect(run.summary).toEqual({ lines: 2500, applied: 2000, refused: [], unsent: 500 });
    expect(run.stopped?.exitCode).toBe(EXIT.usage);
    expect(run.stopped?.message).toMatch(/ECONNRESET\n.*from line 2001 may or may not have been applied/);
  });

  it('notes writes the site only queued for the MDC (X-Sync-State: pending)', async () => {
    const pending = (body: unknown): Answer => ({
      ...applied(body),
      headers: new Headers({ 'x-sync-state': 'pending' }),
    });
    const site = fakeSite([pending, applied, applied]);
    expect((await importFile(site.client, FILE, quiet, site.deps)).pending).toBe(true);
  });

  it('reads Retry-After in seconds, else waits 1 s', () => {
    expect(retryAfterMs(new Headers({ 'retry-after': '5' }))).toBe(5000);
    expect(retryAfterMs(new Headers({ 'retry-after': 'Wed, 21 Oct 2015 07:28:00 GMT' }))).toBe(1000);
    expect(retryAfterMs(undefined)).toBe(1000);
  });
});

describe('export output', () => {
  const failing = (code: string) =>
    new Writable({
      write(_chunk, _enc, done) {
        done(Object.assign(new Error(`write ${code}`), { code }));
      },
    });

  it('ends quietly when the reader went away (EPIPE, as `export … | head`)', async () => {
    const out = new LineWriter(failing('EPIPE'), 'stdout');
    await out.write(['{"a":1}']).catch(() => undefined);
    await expect(out.write(['{"a":2}'])).rejects.toBeInstanceOf(ReaderGone);
  });

  it('fails with exit 2 naming the output on any other write error', async () => {
    const out = new LineWriter(failing('ENOSPC'), 'big.ndjson');
    await out.write(['{"a":1}']).catch(() => undefined);
    const err = (await out.end().catch((e: unknown) => e)) as CliError;
    expect(err).toBeInstanceOf(CliError);
    expect(err.exitCode).toBe(EXIT.usage);
    expect(err.message).toBe('cannot write big.ndjson: write ENOSPC');
  });

  it('writes lines and counts them', async () => {
    const stream = new PassThrough();
    const out = new LineWriter(stream, 'stdout');
    await out.write(['{"a":1}', '{"a":2}']);
    await out.write([]);
    const text: Buffer[] = [];
    stream.on('data', (d: Buffer) => text.push(d));
    await out.end();
    expect(Buffer.concat(text).toString()).toBe('{"a":1}\n{"a":2}\n');
    expect(out.lines).toBe(2);
  });
});
