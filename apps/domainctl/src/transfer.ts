import { describeRefusal, entitiesPath, Refusal } from './api-client';

/**
 * The NDJSON lines `export` writes and `import` reads, one object a line:
 *   {"type":"domain","name":"eu.acme","parent":"acme","settings":{}}
 *   {"type":"entity","domain":"eu.acme","kind":"user","name":"alice","attributes":{}}
 * Import creates each (POST), in file order, except that a domain goes before its children and
 * entities wherever the file lists it.
 */
export type TransferLine =
  | { type: 'domain'; name: string; parent: string | null; settings: Record<string, unknown> }
  | { type: 'entity'; domain: string; kind: string; name: string; attributes: Record<string, unknown> };

/** SPEC §5 `POST /batch`: one op. */
export interface BatchOp {
  method: string;
  path: string;
  body?: unknown;
}

export interface PlannedOp {
  /** 1-based line of the file */
  line: number;
  op: BatchOp;
}

export interface LineRefusal extends Refusal {
  line: number;
}

/** At most this many ops per `POST /batch` (SPEC §5). */
export const MAX_BATCH_OPS = 1000;
/** Bodies over 1 MiB get 413 (SPEC §9): keep each batch's JSON under this. */
export const MAX_BATCH_BYTES = 900 * 1024;

export function domainLine(d: {
  name: string;
  parent: string | null;
  settings: Record<string, unknown>;
}): string {
  return JSON.stringify({ type: 'domain', name: d.name, parent: d.parent, settings: d.settings });
}

export function entityLine(e: {
  domain: string;
  kind: string;
  name: string;
  attributes: Record<string, unknown>;
}): string {
  return JSON.stringify({
    type: 'entity',
    domain: e.domain,
    kind: e.kind,
    name: e.name,
    attributes: e.attributes,
  });
}

/** A line's op, the domain it creates (a domain line) and the domain it needs first (its parent, or an entity's domain). */
interface ParsedLine {
  op: BatchOp;
  creates?: string;
  needs?: string;
}

/**
 * The file's lines as batch ops, and the lines refused before any is sent (not JSON, not a domain
 * or entity line). Names and values are left to the API to judge, as for any other request.
 * A hand-written file may list a domain after its children or entities: each such line moves,
 * stably, to just after the line creating what it needs (see `afterWhatTheyNeed`); `line` stays
 * the file's, so refusals name the lines as written.
 */
export function planImport(text: string): { ops: PlannedOp[]; refusals: LineRefusal[] } {
  const parsed: Array<PlannedOp & ParsedLine> = [];
  const refusals: LineRefusal[] = [];
  text.split('\n').forEach((raw, i) => {
    if (raw.trim() === '') return;
    const line = i + 1;
    const planned = opOf(raw);
    if (typeof planned === 'string')
      refusals.push({ line, status: 0, code: 'invalid_line', message: planned });
    else parsed.push({ line, ...planned });
  });
  return { ops: afterWhatTheyNeed(parsed).map(({ line, op }) => ({ line, op })), refusals };
}

/**
 * The lines in file order, except that a line whose parent or domain is created by a LATER line
 * of the file waits for it and follows it (in file order among those waiting for the same line).
 * Lines still waiting at the end (a parent cycle) go last, in file order: the API judges them.
 */
function afterWhatTheyNeed<T extends ParsedLine>(lines: T[]): T[] {
  const creator = new Map<string, T>();
  for (const l of lines) if (l.creates !== undefined && !creator.has(l.creates)) creator.set(l.creates, l);
  const out: T[] = [];
  const emitted = new Set<T>();
  const waiting = new Map<T, T[]>();
  const emit = (first: T) => {
    const stack = [first];
    while (stack.length > 0) {
      const l = stack.pop() as T;
      out.push(l);
      emitted.add(l);
      stack.push(...(waiting.get(l) ?? []).reverse());
      waiting.delete(l);
    }
  };
  for (const l of lines) {
    const needed = l.needs === undefined ? undefined : creator.get(l.needs);
    if (needed === undefined || emitted.has(needed)) emit(l);
    else waiting.set(needed, [...(waiting.get(needed) ?? []), l]);
  }
  if (out.length < lines.length) out.push(...lines.filter((l) => !emitted.has(l)));
  return out;
}

function opOf(raw: string): ParsedLine | string {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return 'not JSON';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const line = value as Record<string, unknown>;
  if (line.type === 'domain' && typeof line.name === 'string') {
    const { name, parent, settings } = line;
    return {
      op: { method: 'POST', path: '/domains', body: withDefined({ name, parent, settings }) },
      creates: name,
      needs: typeof parent === 'string' ? parent : undefined,
    };
  }
  if (line.type === 'entity' && typeof line.domain === 'string') {
    const { kind, name, attributes } = line;
    return {
      op: { method: 'POST', path: entitiesPath(line.domain), body: withDefined({ kind, name, attributes }) },
      needs: line.domain,
    };
  }
  return 'neither {"type":"domain","name":…} nor {"type":"entity","domain":…}';
}

/** The object without its undefined and null members (the API takes an absent parent, not null). */
function withDefined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null));
}

/** `{"ops":[]}` around the ops (each counted with one byte for its comma). */
const BATCH_ENVELOPE_BYTES = Buffer.byteLength(JSON.stringify({ ops: [] }));

/** Consecutive ops in batches of at most `maxOps` ops and at most `maxBytes` of request body (a lone larger op goes alone). */
export function chunkOps(
  ops: PlannedOp[],
  maxOps = MAX_BATCH_OPS,
  maxBytes = MAX_BATCH_BYTES,
): PlannedOp[][] {
  const chunks: PlannedOp[][] = [];
  let current: PlannedOp[] = [];
  let bytes = BATCH_ENVELOPE_BYTES;
  for (const planned of ops) {
    const size = Buffer.byteLength(JSON.stringify(planned.op)) + 1;
    if (current.length > 0 && (current.length === maxOps || bytes + size > maxBytes)) {
      chunks.push(current);
      current = [];
      bytes = BATCH_ENVELOPE_BYTES;
    }
    current.push(planned);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** The refused ops of one batch's `{ results: [{ status, body }] }`, by file line. */
export function refusedOps(
  chunk: PlannedOp[],
  results: Array<{ status: number; body: unknown }>,
): LineRefusal[] {
  return chunk.flatMap((planned, i) => {
    const result = results[i];
    if (result && result.status < 400) return [];
    const body = (result?.body ?? null) as { code?: unknown; message?: unknown } | null;
    return [
      {
        line: planned.line,
        status: result?.status ?? 0,
        code: typeof body?.code === 'string' ? body.code : 'no_result',
        message:
          typeof body?.message === 'string' ? body.message : 'the batch answered no result for this op',
      },
    ];
  });
}

export interface ImportSummary {
  /** the file's non-empty lines */
  lines: number;
  applied: number;
  refused: LineRefusal[];
  /** when the import stopped before the end: the lines not sent (nor counted above) */
  unsent?: number;
}

/** The end of an import: counts, then each refusal by line. */
export function summaryLines(summary: ImportSummary): string[] {
  const unsent = summary.unsent === undefined ? '' : `; stopped with ${summary.unsent} not sent`;
  const head = `imported ${summary.applied} of ${summary.lines} lines; ${summary.refused.length} refused${unsent}`;
  const refused = [...summary.refused]
    .sort((a, b) => a.line - b.line)
    .map((r) => `  line ${r.line}: ${r.status === 0 ? `${r.code}: ${r.message}` : describeRefusal(r)}`);
  return [head, ...refused];
}
