import type { Domain, Entity, RuleCode } from '@dd/directory';
import { ProtocolError } from '@dd/sync-protocol';

/** A refused verdict (SPEC §7), decided here or by the MDC: the code, why, and the state that won. */
export interface Refusal {
  code: RuleCode;
  message: string;
  winner: Domain | Entity | { id: string; deletedAt: string } | null;
}

/** SPEC §5: how long a client waits before writing again after 503 `queue_full`. */
const QUEUE_FULL_RETRY_AFTER_S = 5;
/** SPEC §5: how long a client waits before trying again while the site's store is down. */
const STORE_RETRY_AFTER_S = 5;

/** SPEC §5: every error the admin API answers, as `{ statusCode, code, message }`. */
export type ErrorCode =
  | 'validation_failed'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'domain_not_found'
  | 'entity_not_found'
  | 'already_exists'
  | 'has_children'
  | 'version_conflict'
  | 'misdirected'
  | 'payload_too_large'
  | 'site_unreachable'
  | 'queue_full'
  | 'mdc_unreachable'
  | 'store_unavailable'
  | 'unsupported_media_type'
  | 'rate_limited'
  | 'internal_error';

/** Exhaustive by construction: adding a code without a status fails to compile. */
export const STATUS_OF: Record<ErrorCode, number> = {
  validation_failed: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  domain_not_found: 404,
  entity_not_found: 404,
  already_exists: 409,
  has_children: 409,
  version_conflict: 409,
  misdirected: 421,
  payload_too_large: 413,
  site_unreachable: 502,
  queue_full: 503,
  mdc_unreachable: 503,
  store_unavailable: 503,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal_error: 500,
};

/** Every code, for the OpenAPI document's `ErrorCode` enum. */
export const ERROR_CODES = Object.keys(STATUS_OF) as ErrorCode[];

export interface ErrorBody {
  statusCode: number;
  code: ErrorCode;
  message: string;
  [extra: string]: unknown;
}

/** A refusal with one of the spec's codes; the one exception filter turns it into the response. */
export class ApiError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.status = STATUS_OF[code];
  }

  body(): ErrorBody {
    return { statusCode: this.status, code: this.code, message: this.message, ...this.extra };
  }
}

/** SPEC §7: a change the rules refused; the refusal's code is the answer's, with the state that won. */
export class RefusedError extends Error {
  readonly kind = 'refused';

  constructor(readonly verdict: Refusal) {
    super(verdict.message);
  }
}

/** SPEC §6: the site's submit queue is full; writes resume as it drains. */
export class QueueFullError extends Error {
  readonly kind = 'queue_full';

  constructor(readonly capacity: number) {
    super(`the submit queue holds ${capacity} changes; writes resume as it drains`);
  }
}

/** SPEC §9: no site that serves the domain answered; `mdcOnly` when the only target was the MDC (master-domain writes). */
export class SitesUnreachableError extends Error {
  readonly kind = 'sites_unreachable';

  constructor(
    readonly tried: string[],
    readonly mdcOnly = false,
  ) {
    super(`no site answered (tried: ${tried.join(', ') || 'none'})`);
  }
}

/** SPEC §5: the site's own store (its Redis, or the MDC's PostgreSQL) cannot be reached — never a 500. */
export class StoreUnavailableError extends Error {
  readonly kind = 'store_unavailable';

  constructor(readonly detail: string) {
    super(`the site's store is unavailable: ${detail}`);
  }
}

/** Tells a store outage (connection refused, closed, timed out) from any other failure; one per app. */
export type StoreFailureCheck = (error: unknown) => boolean;
export const STORE_FAILURE = Symbol('StoreFailureCheck');

/** The failures of the product's own rules that services throw; each has its answer in `apiErrorOf`. */
export type DomainError =
  RefusedError | QueueFullError | SitesUnreachableError | StoreUnavailableError | ProtocolError;

/** SPEC §5 answers to domain errors: one exhaustive switch (a new kind without a case fails to compile). */
export function apiErrorOf(error: DomainError): ApiError {
  switch (error.kind) {
    case 'refused': {
      const { code, message, winner } = error.verdict;
      return new ApiError(code, message, winner ? { winner } : {});
    }
    case 'queue_full':
      return new ApiError(
        'queue_full',
        error.message,
        { capacity: error.capacity },
        { 'retry-after': String(QUEUE_FULL_RETRY_AFTER_S) },
      );
    case 'sites_unreachable':
      return error.mdcOnly
        ? new ApiError('mdc_unreachable', 'the MDC cannot be reached; master-domain writes wait for it')
        : new ApiError(
            'site_unreachable',
            `no site serving this domain answered (tried ${error.tried.join(', ')})`,
            { tried: error.tried },
          );
    case 'store_unavailable':
      return new ApiError(
        'store_unavailable',
        error.message,
        {},
        { 'retry-after': String(STORE_RETRY_AFTER_S) },
      );
    case 'protocol':
      return new ApiError('validation_failed', error.message);
    default:
      return unreachable(error);
  }
}

export function isDomainError(error: unknown): error is DomainError {
  return (
    error instanceof RefusedError ||
    error instanceof QueueFullError ||
    error instanceof SitesUnreachableError ||
    error instanceof StoreUnavailableError ||
    error instanceof ProtocolError
  );
}

function unreachable(error: never): never {
  throw new Error(`no answer for ${String(error)}`);
}

/** What a caught value says, for a log line or a report (anything may be thrown). */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
