/** SPEC §9: a site could not be reached at all (network error or timeout) — not an HTTP answer. */
export class SiteUnreachableError extends Error {
  override readonly name = 'SiteUnreachableError';

  constructor(
    readonly url: string,
    override readonly cause: unknown,
  ) {
    super(`${url} unreachable: ${describe(cause)}`, { cause });
  }
}

/**
 * SPEC §8: the MDC could not be reached, or something in front of it said so (502/503/504: a load
 * balancer with no MDC behind it, an MDC restarting or answering `store_unavailable`); the site keeps
 * working alone.
 */
export class MdcUnreachableError extends Error {
  override readonly name = 'MdcUnreachableError';
}

/**
 * The MDC was reached and failed the call itself (a 500 `internal_error`, any other 5xx): not an
 * outage, and not a verdict either — the site keeps its queue and tries again later.
 */
export class MdcFailedError extends Error {
  override readonly name = 'MdcFailedError';

  constructor(
    readonly status: number,
    readonly body: unknown,
    path: string,
  ) {
    super(`the MDC answered ${status} to ${path}: ${bodyText(body)}`);
  }
}

/** The MDC answered 4xx: it refused the call itself (e.g. 401 when the site keys are wrong). */
export class MdcRefusedError extends Error {
  override readonly name = 'MdcRefusedError';

  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`the MDC refused the call with ${status}: ${bodyText(body)}`);
  }
}

function bodyText(body: unknown): string {
  return typeof body === 'string' ? body : JSON.stringify(body);
}

// Duck-typed: a socket error may come from another realm (e.g. under jest), failing instanceof.
function describe(cause: unknown): string {
  const message = (cause as { message?: unknown } | null | undefined)?.message;
  return typeof message === 'string' ? message : String(cause);
}
