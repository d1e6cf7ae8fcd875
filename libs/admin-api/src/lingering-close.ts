import type { IncomingMessage } from 'node:http';

/** SPEC §5: how much of a refused body is read and thrown away so its sender can read the answer. */
export const LINGER = { maxBytes: 8 * 1024 * 1024, maxMs: 5000 };

/**
 * Reads and discards what is left of a request's body, up to a bound, as nginx's lingering close
 * does: answered while still sending (413, 415), a client whose connection is closed under it gets
 * a reset instead of the answer (Node's fetch: EPIPE, "fetch failed"). Resolves once the body has
 * ended, or the bound is reached — then the connection closes and a client still sending gets the reset.
 */
export function discardRestOfBody(request: IncomingMessage, bound = LINGER): Promise<void> {
  if (request.complete) return Promise.resolve();
  return new Promise((resolve) => {
    let read = 0;
    const done = () => {
      clearTimeout(timer);
      request.off('data', onData).off('end', done).off('close', done).off('error', done);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      read += chunk.length;
      if (read > bound.maxBytes) done();
    };
    const timer = setTimeout(done, bound.maxMs);
    request.on('data', onData).once('end', done).once('close', done).once('error', done);
    request.resume();
  });
}
