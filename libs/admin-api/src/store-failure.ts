/** What an error may carry that tells a store outage apart: a socket or SQLSTATE `code`, a `name`, a `message`. */
export interface ErrorTraits {
  code?: unknown;
  name?: unknown;
  message?: unknown;
}

/** Socket errors that mean the store cannot be reached, or went away in the middle of a call. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

export function isNetworkFailure(error: ErrorTraits): boolean {
  return typeof error.code === 'string' && NETWORK_CODES.has(error.code);
}

/** How deep `causedBy` follows `cause` and an AggregateError's `errors`. */
const MAX_DEPTH = 4;

/**
 * Whether `test` recognises the error or anything it wraps: its `cause` chain, and each error of an
 * AggregateError (Node's connect to a name with several addresses fails with one).
 */
export function causedBy(error: unknown, test: (error: ErrorTraits) => boolean, depth = 0): boolean {
  if (typeof error !== 'object' || error === null || depth > MAX_DEPTH) return false;
  if (test(error as ErrorTraits)) return true;
  const { cause, errors } = error as { cause?: unknown; errors?: unknown };
  if (causedBy(cause, test, depth + 1)) return true;
  return Array.isArray(errors) && errors.some((e) => causedBy(e, test, depth + 1));
}

/** An error's message, '' when it has none. */
export function messageText(error: ErrorTraits): string {
  return typeof error.message === 'string' ? error.message : '';
}
