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
  internal_error: 500,
};

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

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(STATUS_OF, value);
}
