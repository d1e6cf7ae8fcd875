import { canonicalJson } from './canonical-json';
import type { JsonValue } from './model';

describe('canonicalJson (SPEC §8)', () => {
  it('sorts keys recursively and leaves no whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}',
    );
  });

  it('gives the same string whatever the key order', () => {
    expect(canonicalJson({ x: 1, y: { p: true, q: 's' } })).toBe(
      canonicalJson({ y: { q: 's', p: true }, x: 1 }),
    );
  });

  it('keeps array order', () => {
    expect(canonicalJson([3, 1, 2])).toBe('[3,1,2]');
  });

  it('writes scalars as JSON.stringify does', () => {
    for (const v of [null, true, false, 0, -1.5, 1e21, 'a"b\\c\n', 'ünï🙂', '']) {
      expect(canonicalJson(v)).toBe(JSON.stringify(v));
    }
  });

  it('escapes keys as JSON.stringify does', () => {
    expect(canonicalJson({ 'a"b': 1, '\n': 2 })).toBe('{"\\n":2,"a\\"b":1}');
  });

  it('matches JSON.stringify on an object whose keys are already sorted', () => {
    const v = { a: [1, 'x', { b: null }], c: { d: false } };
    expect(canonicalJson(v)).toBe(JSON.stringify(v));
  });

  it('handles empty containers', () => {
    expect(canonicalJson({})).toBe('{}');
    expect(canonicalJson([])).toBe('[]');
  });

  it('writes keys that name prototype members as the data they are, __proto__ included', () => {
    const v = JSON.parse(
      '{"valueOf":1,"toString":2,"prototype":3,"hasOwnProperty":4,"constructor":{"x":"yes"},"__proto__":{"p":1}}',
    ) as JsonValue;
    expect(canonicalJson(v)).toBe(
      '{"__proto__":{"p":1},"constructor":{"x":"yes"},"hasOwnProperty":4,"prototype":3,"toString":2,"valueOf":1}',
    );
  });
});
