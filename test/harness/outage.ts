import type { Reply } from './http';

/** SPEC §5: with its store away a site answers at once — never a hang, never a 500. */
export const QUICK_MS = 3000;

/** A call's answer and how long it took. */
export async function timed(call: () => Promise<Reply>): Promise<{ reply: Reply; ms: number }> {
  const started = Date.now();
  const reply = await call();
  return { reply, ms: Date.now() - started };
}

/** SPEC §5: 503 `store_unavailable` with Retry-After; `what` names the call in a failure. */
export function expectStoreUnavailable(what: string, reply: Reply): void {
  expect({ what, status: reply.status, code: reply.body?.code }).toEqual({
    what,
    status: 503,
    code: 'store_unavailable',
  });
  expect(reply.headers.get('retry-after')).toMatch(/^\d+$/);
}
