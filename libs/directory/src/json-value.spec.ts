import { jsonValueProblem, MAX_JSON_DEPTH } from './json-value';
import type { JsonValue } from './model';

/** `levels` objects nested in each other: `{"a":{"a":…{}…}}`. */
function nested(levels: number, leaf: JsonValue = 1): JsonValue {
  let v: JsonValue = leaf;
  for (let i = 0; i < levels; i++) v = { a: v };
  return v;
}

const CONTROLS = Array.from({ length: 0x20 }, (_, i) => String.fromCharCode(i)).concat('\u007f');
const LONE_SURROGATES = ['\ud800', '\udbff', '\udc00', '\udfff', '\ude00\ud83d'];

describe('jsonValueProblem: settings and attributes are stored exactly as given, or refused (SPEC §3, §5)', () => {
  it('accepts ordinary JSON: scalars, arrays, nested objects, every printable text', () => {
    for (const v of [
      {},
      { a: null, b: true, c: 0, d: -1.5e10, e: 'text', f: [1, 'two', [3]], g: { h: { i: [] } } },
      { 'Zoë Müller': '🙂 +1 (HQ)', '': '', ' ': ' ' },
      { pair: '\ud83d\ude00', nbsp: '\u00a0', sep: '\u2028', last: '\uffff' },
    ] as JsonValue[]) {
      expect(jsonValueProblem(v, 'settings')).toBeNull();
    }
  });

  it('accepts every control character except NUL in strings and keys (JSON escapes them; jsonb keeps them)', () => {
    for (const c of CONTROLS.slice(1))
      expect(jsonValueProblem({ [`k${c}`]: `v${c}` }, 'settings')).toBeNull();
  });

  it.each(['constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf'])(
    'accepts a %s key: data like any other',
    (key) => expect(jsonValueProblem({ [key]: { [key]: 1 } }, 'settings')).toBeNull(),
  );

  it(`accepts ${MAX_JSON_DEPTH} levels of objects or arrays and refuses ${MAX_JSON_DEPTH + 1}`, () => {
    expect(jsonValueProblem(nested(MAX_JSON_DEPTH), 'settings')).toBeNull();
    expect(jsonValueProblem(nested(MAX_JSON_DEPTH + 1), 'settings')).toBe(
      'settings nests deeper than 64 levels',
    );
    let arrays: JsonValue = [];
    for (let i = 1; i < MAX_JSON_DEPTH; i++) arrays = [arrays];
    expect(jsonValueProblem(arrays, 'attributes')).toBeNull();
    expect(jsonValueProblem([arrays], 'attributes')).toMatch(/deeper than 64/);
  });

  it('refuses a value nested 10000 deep without exhausting the stack', () => {
    expect(jsonValueProblem(nested(10_000), 'settings')).toMatch(/deeper than 64/);
  });

  it('refuses NUL anywhere: a string value, a key, inside arrays, at any depth, naming where', () => {
    expect(jsonValueProblem({ a: 'x\u0000y' }, 'settings')).toBe(
      'settings."a" holds a NUL character (U+0000)',
    );
    expect(jsonValueProblem({ a: [1, { b: '\u0000' }] }, 'attributes')).toBe(
      'attributes."a"[1]."b" holds a NUL character (U+0000)',
    );
    expect(jsonValueProblem({ a: { 'k\u0000': 1 } }, 'settings')).toBe(
      'settings."a": the key "k\\u0000" holds a NUL character (U+0000)',
    );
    expect(jsonValueProblem(nested(30, '\u0000'), 'settings')).toMatch(/NUL/);
  });

  it('refuses every kind of unpaired surrogate, in a string value or a key', () => {
    for (const s of LONE_SURROGATES) {
      expect(jsonValueProblem({ a: `x${s}` }, 'settings')).toMatch(/unpaired UTF-16 surrogate/);
      expect(jsonValueProblem({ [`${s}k`]: 1 }, 'settings')).toMatch(/unpaired UTF-16 surrogate/);
      expect(jsonValueProblem([[s]], 'attributes')).toMatch(/unpaired UTF-16 surrogate/);
    }
  });

  it('refuses a __proto__ key at any depth, as JSON.parse makes it (an own key)', () => {
    for (const text of ['{"__proto__":{"polluted":1}}', '{"a":[{"__proto__":1}]}', '{"\\u005f_proto__":1}']) {
      expect(jsonValueProblem(JSON.parse(text) as JsonValue, 'settings')).toMatch(
        /"__proto__" is not accepted/,
      );
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('names the value it was given', () => {
    expect(jsonValueProblem({ a: '\u0000' }, 'attributes')).toMatch(/^attributes/);
  });
});
