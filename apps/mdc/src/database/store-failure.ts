import { causedBy, isNetworkFailure, messageText, StoreFailureCheck } from '@dd/admin-api';

/**
 * node-postgres's words for a connection that is gone, could not be had from the pool in time, or
 * left a query unanswered past the read timeout (`QueryGuard`).
 */
const CONNECTION_GONE =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error and is not queryable|Client was closed and is not queryable|Query read timeout)/;

/**
 * SQLSTATEs of a server that cannot serve: class 08 (connection exception), 57P01–57P03 (shutting down by
 * an admin, after a crash, or not accepting connections yet), 53300 (too many connections).
 */
function isUnavailableState(code: string): boolean {
  return /^08[0-9A-Z]{3}$/.test(code) || ['57P01', '57P02', '57P03', '53300'].includes(code);
}

/**
 * SPEC §5: DomainDB cannot serve — refused, reset, terminated, shutting down, pool timed out — so the
 * request answers 503 `store_unavailable`, never a 500. A constraint violation or a bug is not one.
 * TypeORM's QueryFailedError carries the driver error's `code` and message, so it is recognised too.
 */
export const isPostgresFailure: StoreFailureCheck = (error) =>
  causedBy(
    error,
    (e) =>
      isNetworkFailure(e) ||
      (typeof e.code === 'string' && isUnavailableState(e.code)) ||
      CONNECTION_GONE.test(messageText(e)),
  );
