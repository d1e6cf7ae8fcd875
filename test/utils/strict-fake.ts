/**
 * Strict fakes of store classes for provider tests (the pattern of immich `server/test/utils.ts`):
 * every method the test gave is a jest mock of that implementation, every property it gave is that
 * value, and any other member fails the test the moment it is used, so a provider cannot touch a
 * store in a way the test did not expect.
 */
type Method = (...args: never[]) => unknown;
type Methods<T> = { [K in keyof T as T[K] extends Method ? K : never]: T[K] };

export type Fake<T> = T & { [K in keyof Methods<T>]: jest.Mock };

export function strictFake<T extends object>(name: string, given: Partial<T> = {}): Fake<T> {
  const members = new Map<PropertyKey, unknown>();
  for (const [key, value] of Object.entries(given)) {
    members.set(key, typeof value === 'function' ? jest.fn(value as Method) : value);
  }
  const handler: ProxyHandler<object> = {
    get(_target, prop) {
      if (members.has(prop)) return members.get(prop);
      if (prop === 'constructor') return Object;
      // Not a thenable, not a Nest lifecycle hook: awaiting or bootstrapping a fake is no use of it.
      if (prop === 'then' || typeof prop === 'symbol' || /^on[A-Z]|^beforeApplication/.test(prop))
        return undefined;
      return () => {
        throw new Error(
          `unexpected use: ${name}.${String(prop)} — give it to strictFake if the test expects it`,
        );
      };
    },
  };
  return new Proxy({}, handler) as Fake<T>;
}
