import Table from 'cli-table3';

/** Borderless, uncoloured, two spaces between columns: aligned text that greps and diffs well. */
const PLAIN_CHARS = {
  top: '',
  'top-mid': '',
  'top-left': '',
  'top-right': '',
  bottom: '',
  'bottom-mid': '',
  'bottom-left': '',
  'bottom-right': '',
  left: '',
  'left-mid': '',
  mid: '',
  'mid-mid': '',
  right: '',
  'right-mid': '',
  middle: '  ',
};

/** Rows under a header, columns aligned; an empty list still shows the header. */
export function table(head: string[], rows: unknown[][]): string {
  const t = new Table({
    head,
    chars: PLAIN_CHARS,
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
  });
  for (const row of rows) t.push(row.map(cellText));
  return t
    .toString()
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n');
}

/** One object as FIELD / VALUE rows (a `get`). */
export function fields(object: Record<string, unknown>): string {
  return table(
    ['FIELD', 'VALUE'],
    Object.entries(object).map(([key, value]) => [key, cellText(value)]),
  );
}

/** A cell: JSON for objects, `-` for nothing. */
export function cellText(value: unknown): string {
  if (value === null || value === undefined || value === '') return '-';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** How long ago `at` was, from `now`: `4s ago`, `3m12s ago`, `never`. */
export function ago(at: string | null | undefined, now: number): string {
  if (!at) return 'never';
  const seconds = Math.max(0, Math.round((now - Date.parse(at)) / 1000));
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${seconds % 60}s ago`;
  return `${Math.floor(seconds / 3600)}h${Math.floor((seconds % 3600) / 60)}m ago`;
}

interface DomainListItem {
  name: string;
  parent: string | null;
  servedBy: string[];
}

export function domainsTable(items: DomainListItem[]): string {
  return table(
    ['NAME', 'PARENT', 'SERVED BY'],
    items.map((d) => [d.name, d.parent, d.servedBy.join(',')]),
  );
}

interface EntityItem {
  kind: string;
  name: string;
  version: string;
  pending?: boolean;
  attributes: Record<string, unknown>;
}

export function entitiesTable(items: EntityItem[]): string {
  return table(
    ['KIND', 'NAME', 'VERSION', 'ATTRIBUTES'],
    items.map((e) => [e.kind, e.name, e.pending ? `${e.version} (pending)` : e.version, e.attributes]),
  );
}

interface RejectionItem {
  seq: number | string;
  op: string;
  target: string;
  reason: string;
  at: string;
}

export function rejectionsTable(items: RejectionItem[]): string {
  return table(
    ['SEQ', 'AT', 'OP', 'TARGET', 'REASON'],
    items.map((r) => [r.seq, r.at, r.op, r.target, r.reason]),
  );
}

interface AuditItem {
  version: string;
  at: string;
  site: string | null;
  actor: string | null;
  op: string;
  domain: string;
  change: { target?: unknown } | null;
}

export function auditTable(items: AuditItem[]): string {
  return table(
    ['VERSION', 'AT', 'SITE', 'ACTOR', 'OP', 'DOMAIN'],
    items.map((a) => [a.version, a.at, a.site, a.actor, a.op, a.domain]),
  );
}
