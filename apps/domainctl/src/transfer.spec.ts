import {
  chunkOps,
  domainLine,
  entityLine,
  MAX_BATCH_BYTES,
  planImport,
  PlannedOp,
  refusedOps,
  summaryLines,
} from './transfer';

const entity = (i: number) => ({
  domain: 'acme',
  kind: 'user',
  name: `u${i}`,
  attributes: { n: i },
});

describe('import and export lines (NDJSON)', () => {
  it('reads back what export writes: a domain, then its entities, as creates through POST /batch', () => {
    const text = [
      domainLine({ name: 'eu.acme', parent: 'acme', settings: { tier: 'gold' } }),
      entityLine({ ...entity(1), domain: 'eu.acme' }),
      '',
    ].join('\n');
    expect(planImport(text)).toEqual({
      ops: [
        {
          line: 1,
          op: {
            method: 'POST',
            path: '/domains',
            body: { name: 'eu.acme', parent: 'acme', settings: { tier: 'gold' } },
          },
        },
        {
          line: 2,
          op: {
            method: 'POST',
            path: '/domains/eu.acme/entities',
            body: { kind: 'user', name: 'u1', attributes: { n: 1 } },
          },
        },
      ],
      refusals: [],
    });
  });

  it('sends a first-level domain without a parent', () => {
    const { ops } = planImport(domainLine({ name: 'acme', parent: null, settings: {} }));
    expect(ops[0].op.body).toEqual({ name: 'acme', settings: {} });
  });

  it('refuses, by line, what is not JSON or not a domain or entity line, and skips blank lines', () => {
    const { ops, refusals } = planImport(
      ['{oops', '', '[1]', '{"type":"group"}', entityLine(entity(2))].join('\n'),
    );
    expect(ops.map((o) => o.line)).toEqual([5]);
    expect(refusals.map((r) => [r.line, r.code, r.message])).toEqual([
      [1, 'invalid_line', 'not JSON'],
      [3, 'invalid_line', 'not a JSON object'],
      [4, 'invalid_line', expect.stringContaining('neither')],
    ]);
  });

  it('moves a domain line after its parent, and entities after their domain, when the file lists them later', () => {
    const domain = (name: string, parent: string | null) => domainLine({ name, parent, settings: {} });
    const text = [
      entityLine({ ...entity(1), domain: 'x.eu.acme' }), // 1
      domain('x.eu.acme', 'eu.acme'), // 2
      domain('us.acme', 'acme'), // 3: acme is not in the file: stays
      domain('eu.acme', 'acme'), // 4
      entityLine(entity(2)), // 5: acme is not in the file: stays
      domain('y.eu.acme', 'eu.acme'), // 6: its parent came before: stays
      '{oops', // 7
      domain('a', 'b'), // 8: a parent cycle: left to the API, last
      domain('b', 'a'), // 9
    ].join('\n');
    const { ops, refusals } = planImport(text);
    expect(ops.map((o) => o.line)).toEqual([3, 4, 2, 1, 5, 6, 8, 9]);
    expect(ops[1].op.body).toMatchObject({ name: 'eu.acme' });
    expect(refusals.map((r) => r.line)).toEqual([7]);
  });

  it('keeps a file already in order as it is', () => {
    const text = [
      domainLine({ name: 'acme', parent: null, settings: {} }),
      domainLine({ name: 'eu.acme', parent: 'acme', settings: {} }),
      entityLine({ ...entity(1), domain: 'eu.acme' }),
      entityLine(entity(2)),
      domainLine({ name: 'us.acme', parent: 'acme', settings: {} }),
    ].join('\n');
    expect(planImport(text).ops.map((o) => o.line)).toEqual([1, 2, 3, 4, 5]);
  });

  it('leaves names to the API to judge (they reach the batch as written)', () => {
    const { ops } = planImport(entityLine({ ...entity(3), kind: 'Not A Kind' }));
    expect(ops[0].op.body).toMatchObject({ kind: 'Not A Kind' });
  });
});

describe('batches', () => {
  const planned = (n: number, size = 0): PlannedOp[] =>
    Array.from({ length: n }, (_, i) => ({
      line: i + 1,
      op: {
        method: 'POST',
        path: '/domains/acme/entities',
        body: { kind: 'user', name: `u${String(i).padStart(4, '0')}`, attributes: { pad: 'x'.repeat(size) } },
      },
    }));

  const bodyBytes = (chunk: PlannedOp[]) =>
    Buffer.byteLength(JSON.stringify({ ops: chunk.map((p) => p.op) }));

  it('holds at most 1000 ops each, in file order, each body under the byte budget', () => {
    const chunks = chunkOps(planned(2500, 100));
    expect(chunks.map((c) => c.length)).toEqual([1000, 1000, 500]);
    expect(chunks.flat().map((p) => p.line)).toEqual(planned(2500).map((p) => p.line));
    for (const chunk of chunks) expect(bodyBytes(chunk)).toBeLessThanOrEqual(MAX_BATCH_BYTES);
  });

  it('cuts by bytes before 1000 ops when the ops are large, each body under the budget', () => {
    // ~1.1 KB an op, all of one size: about 830 fill the 900 KiB budget
    const ops = planned(2500, 1000);
    const chunks = chunkOps(ops);
    const perChunk = Math.floor(
      (MAX_BATCH_BYTES - '{"ops":[]}'.length) / (Buffer.byteLength(JSON.stringify(ops[0].op)) + 1),
    );
    expect(chunks.map((c) => c.length)).toEqual([perChunk, perChunk, perChunk, 2500 - 3 * perChunk]);
    for (const chunk of chunks) expect(bodyBytes(chunk)).toBeLessThanOrEqual(MAX_BATCH_BYTES);
  });

  it('stays under the byte bound, and sends an op larger than it alone', () => {
    const chunks = chunkOps(planned(10, 300), 1000, 1000);
    expect(chunks.every((c) => c.length <= 2)).toBe(true);
    for (const chunk of chunks) expect(bodyBytes(chunk)).toBeLessThanOrEqual(1000);
    expect(chunkOps(planned(2, 5000), 1000, 1000).map((c) => c.length)).toEqual([1, 1]);
  });

  it("takes each refused op's code and message from the batch's results, by file line", () => {
    const chunk = planned(3).map((p) => ({ ...p, line: p.line + 10 }));
    const results = [
      { status: 201, body: {} },
      { status: 409, body: { statusCode: 409, code: 'already_exists', message: 'entity user/u1 exists' } },
    ];
    expect(refusedOps(chunk, results)).toEqual([
      { line: 12, status: 409, code: 'already_exists', message: 'entity user/u1 exists' },
      { line: 13, status: 0, code: 'no_result', message: 'the batch answered no result for this op' },
    ]);
  });

  it('sums up the import with each refusal by line', () => {
    expect(
      summaryLines({
        lines: 4,
        applied: 2,
        refused: [
          { line: 4, status: 400, code: 'validation_failed', message: 'bad kind' },
          { line: 1, status: 0, code: 'invalid_line', message: 'not JSON' },
        ],
      }),
    ).toEqual([
      'imported 2 of 4 lines; 2 refused',
      '  line 1: invalid_line: not JSON',
      '  line 4: validation_failed (400): bad kind',
    ]);
  });
});
