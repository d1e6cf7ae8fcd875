import { ApiError } from './errors';
import { decodeCursor, encodeCursor, pageOf, parseLimit } from './paging';

describe('SPEC §5 paging', () => {
  it('defaults limit to 100 and accepts 1 to 1000', () => {
    expect(parseLimit(undefined)).toBe(100);
    expect(parseLimit('1')).toBe(1);
    expect(parseLimit('1000')).toBe(1000);
  });

  it.each(['0', '1001', '-1', '2.5', 'ten'])('refuses limit %s with validation_failed', (raw) => {
    expect(() => parseLimit(raw)).toThrow(ApiError);
    try {
      parseLimit(raw);
    } catch (err) {
      expect((err as ApiError).code).toBe('validation_failed');
      expect((err as ApiError).status).toBe(400);
    }
  });

  it('round-trips a cursor and refuses one it never gave out', () => {
    expect(decodeCursor(encodeCursor(['user', 'alice']), 2)).toEqual(['user', 'alice']);
    expect(decodeCursor(undefined, 2)).toBeUndefined();
    expect(() => decodeCursor('not-a-cursor', 2)).toThrow(ApiError);
    expect(() => decodeCursor(encodeCursor(['only-one']), 2)).toThrow(ApiError);
  });

  it.each([
    ['a NUL', ['user', 'a\u0000']],
    ['a control character', ['us\u0007er', 'alice']],
    ['an unpaired surrogate', ['user', '\ud800']],
    ['a number', ['user', 7]],
  ])('refuses a cursor that carries %s, before any store sees it', (_why, key) => {
    const forged = Buffer.from(JSON.stringify(key)).toString('base64url');
    expect(() => decodeCursor(forged, 2)).toThrow(ApiError);
  });

  it('gives next only when a row beyond the page was fetched', () => {
    const keyOf = (n: number) => [String(n)];
    expect(pageOf([1, 2, 3], 2, keyOf)).toEqual({ items: [1, 2], next: encodeCursor(['2']) });
    expect(pageOf([1, 2], 2, keyOf)).toEqual({ items: [1, 2], next: null });
    expect(pageOf([], 2, keyOf)).toEqual({ items: [], next: null });
  });
});
