import { assertAddressable } from './addressing';
import { ApiError } from './errors';

/** The 400 message, or null when the request passes. */
function refusal(request: Parameters<typeof assertAddressable>[0]): string | null {
  try {
    assertAddressable(request);
    return null;
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    expect({ status: err.status, code: err.code }).toEqual({ status: 400, code: 'validation_failed' });
    return err.message;
  }
}

describe('assertAddressable: what a request names reaches no store unless it is clean (SPEC §5)', () => {
  it('passes ordinary names, printable Unicode and escapes that decode', () => {
    expect(
      refusal({
        url: '/api/v1/domains/acme/entities/user/Zo%C3%AB%20M%C3%BCller?kind=user&after=abc%3D&x=a+b',
        params: { name: 'acme', kind: 'user', entityName: 'Zoë Müller' },
        query: { kind: 'user', after: 'abc=', x: 'a b' },
      }),
    ).toBeNull();
    expect(refusal({ url: '/health/live' })).toBeNull();
    expect(refusal({ url: '/x/%2E', params: { name: '.' } })).toBeNull();
  });

  it.each(['\u0000', '\u0007', '\u001f', '\u007f', '\u0085', '\ud800', '\udfff'])(
    'refuses %j in a path or query parameter, naming it',
    (c) => {
      expect(refusal({ url: '/x', params: { entityName: `a${c}` } })).toBe(
        'path parameter entityName holds a control character or an unpaired surrogate',
      );
      expect(refusal({ url: '/x', query: { parent: `${c}` } })).toBe(
        'query parameter parent holds a control character or an unpaired surrogate',
      );
    },
  );

  it.each(['parent=%zz', 'parent=%E', 'kind=%ED%A0%80', 'after=%C3', 'a%zz=1'])(
    'refuses a query string with a bad escape: %s',
    (query) =>
      expect(refusal({ url: `/api/v1/domains?${query}` })).toBe('the query string has a bad % escape'),
  );

  it('refuses a query parameter given twice', () => {
    expect(refusal({ url: '/x?kind=a&kind=b', query: { kind: ['a', 'b'] } })).toBe(
      'query parameter kind may be given once',
    );
  });
});
