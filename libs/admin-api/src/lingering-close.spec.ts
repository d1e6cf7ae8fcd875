import type { IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import { discardRestOfBody } from './lingering-close';

/** A request body still arriving, as Node hands it to a server. */
function arriving(): PassThrough & { complete: boolean } {
  return Object.assign(new PassThrough(), { complete: false });
}

/** Drains with small bounds: 1000 bytes, or the time given. */
const drain = (request: PassThrough, maxMs = 10_000) =>
  discardRestOfBody(request as unknown as IncomingMessage, { maxBytes: 1000, maxMs });

const settled = (p: Promise<void>) =>
  Promise.race([p.then(() => 'done'), new Promise((r) => setImmediate(() => r('pending')))]);

describe('discardRestOfBody: a refused body is read to its end, up to a bound (SPEC §5)', () => {
  it('returns at once for a request whose body already arrived', async () => {
    const request = Object.assign(arriving(), { complete: true });
    await expect(settled(drain(request))).resolves.toBe('done');
  });

  it('reads and drops the rest, and returns when the body ends', async () => {
    const request = arriving();
    const drained = drain(request);
    request.write(Buffer.alloc(400));
    await expect(settled(drained)).resolves.toBe('pending');
    request.end(Buffer.alloc(400));
    await expect(drained).resolves.toBeUndefined();
  });

  it('gives up past the byte bound, while the client still sends', async () => {
    const request = arriving();
    const drained = drain(request);
    request.write(Buffer.alloc(600));
    request.write(Buffer.alloc(600));
    await expect(drained).resolves.toBeUndefined();
    expect(request.listenerCount('data')).toBe(0);
  });

  it('gives up past the time bound', async () => {
    const request = arriving();
    const started = Date.now();
    await drain(request, 50);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(request.listenerCount('end')).toBe(0);
  });
});
