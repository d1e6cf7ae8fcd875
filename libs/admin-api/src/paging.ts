import { isCleanText } from '@dd/directory';
import { ApiError } from './errors';

/** SPEC §5: lists take `limit` (default 100, at most 1000) and an opaque `after` cursor. */
export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;

export interface Page<T> {
  items: T[];
  next: string | null;
}

export function parseLimit(raw: unknown): number {
  if (raw === undefined || raw === '') return DEFAULT_LIMIT;
  const n = typeof raw === 'number' ? raw : Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > MAX_LIMIT) {
    throw new ApiError('validation_failed', `limit must be an integer from 1 to ${MAX_LIMIT}`);
  }
  return n;
}

/** Cursors are the sort key of the last item, base64url-encoded so clients treat them as opaque. */
export function encodeCursor(key: string[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

export function decodeCursor(raw: unknown, parts: number): string[] | undefined {
  if (raw === undefined || raw === '') return undefined;
  try {
    const key: unknown = JSON.parse(Buffer.from(String(raw), 'base64url').toString('utf8'));
    // SPEC §5: what a cursor carries reaches the store, so it is held to the names' rules (no NUL, no unpaired surrogate).
    const valid = (k: unknown) => typeof k === 'string' && isCleanText(k);
    if (Array.isArray(key) && key.length === parts && key.every(valid)) return key;
  } catch {
    // fall through to the refusal below
  }
  throw new ApiError('validation_failed', 'after is not a cursor this API gave out');
}

/** Builds a page from `limit + 1` rows fetched in order: the extra row only says there is more. */
export function pageOf<T>(rows: T[], limit: number, keyOf: (row: T) => string[]): Page<T> {
  const items = rows.slice(0, limit);
  const next = rows.length > limit ? encodeCursor(keyOf(items[items.length - 1])) : null;
  return { items, next };
}
