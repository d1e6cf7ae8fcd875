/**
 * Strict fakes of store classes for provider tests (the pattern of immich `server/test/utils.ts`):
 * every method the test gave is a jest mock of that implementation; any other method fails the test
 * the moment it is called, so a provider cannot touch a store in a way the test did not expect.
 */
type Method = (...args: never[]) => unknown;
type Methods<T> = { [K in keyof T as T[K] extends Method ? K : never]: T[K] };

export type Fake<T> = T & { [K in keyof Methods<T>]: jest.Mock };

export function strictFake<T extends object>(name: string, given: Partial<Methods<T>> = {}): Fake<T> {
  const mocks = new Map<PropertyKey, jest.Mock>();
  for (const [key, impl] of Object.entries(given)) mocks.set(key, jest.fn(impl as Method));
  const handler: ProxyHandler<object> = {
    get(_target, prop) {
      const mock = mocks.get(prop);
      if (mock) return mock;
      if (prop === 'constructor') return Object;
      // Not a thenable, not a Nest lifecycle hook: awaiting or bootstrapping a fake is no call to it.
      if (prop === 'then' || typeof prop === 'symbol' || /^on[A-Z]|^beforeApplication/.test(prop))
        return undefined;
      return () => {
        throw new Error(
          `unexpected call: ${name}.${String(prop)}() — give it to strictFake if the test expects it`,
        );
      };
    },
  };
  return new Proxy({}, handler) as Fake<T>;
}
