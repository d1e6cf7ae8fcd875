import { isCleanText } from '@dd/directory';
import { ApiError } from './errors';

/** What of a request names things: its raw URL and the path and query parameters Fastify decoded from it. */
export interface Addressed {
  url: string;
  params?: unknown;
  query?: unknown;
}

/** True when every `%` escape of the query string decodes (a bad one would reach a handler as typed). */
function queryDecodes(url: string): boolean {
  const start = url.indexOf('?');
  if (start < 0) return true;
  try {
    for (const part of url.slice(start + 1).split(/[&=]/)) decodeURIComponent(part.replace(/\+/g, ' '));
    return true;
  } catch {
    return false;
  }
}

/**
 * SPEC §5: the names a request addresses — path parameters (domain, kind, entity name) and query
 * parameters (`parent`, `kind`, `domain`, …) — are checked before any routing or store sees them:
 * a bad `%` escape, a parameter given twice, a control character or an unpaired surrogate is a 400.
 * (Fastify already refuses a path whose escapes do not decode, and the name rules come later.)
 */
export function assertAddressable(request: Addressed): void {
  if (!queryDecodes(request.url)) {
    throw new ApiError('validation_failed', 'the query string has a bad % escape');
  }
  const check = (where: string, values: unknown) => {
    for (const [name, value] of Object.entries(values ?? {})) {
      if (typeof value !== 'string') {
        throw new ApiError('validation_failed', `${where} parameter ${name} may be given once`);
      }
      if (!isCleanText(value)) {
        throw new ApiError(
          'validation_failed',
          `${where} parameter ${name} holds a control character or an unpaired surrogate`,
        );
      }
    }
  };
  check('path', request.params);
  check('query', request.query);
}
