import { canonicalJson } from './canonical-json';

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
});
