import type { Logger } from '@nestjs/common';

/** How often an error that lasts is logged again (a connection retries every second while its Redis is away). */
const REPEAT_MS = 30_000;

/**
 * SPEC §10: the listener for a Redis connection's `error` events (ioredis, BullMQ's queue, worker
 * and queue events), which without one are printed as text: each distinct error goes to the site's
 * log once, and again every REPEAT_MS while it lasts.
 */
export function connectionErrorLog(logger: Logger, connection: string): (err: Error) => void {
  let last: string | undefined;
  let at = 0;
  return (err) => {
    const now = Date.now();
    if (err.message === last && now - at < REPEAT_MS) return;
    last = err.message;
    at = now;
    logger.warn({ err }, `${connection}: ${err.message}`);
  };
}
