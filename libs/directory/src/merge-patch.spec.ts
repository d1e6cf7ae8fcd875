import { applyMergePatch, cloneJson, isJsonObject, mergeObjectPatch } from './merge-patch';
import type { JsonObject, JsonValue } from './model';

describe('applyMergePatch: RFC 7396 appendix A', () => {
  const examples: [JsonValue, JsonValue, JsonValue][] = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [
      ['a', 'b'],
      ['c', 'd'],
      ['c', 'd'],
    ],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];

  it.each(examples)('patches %j with %j into %j', (target, patch, result) => {
    expect(applyMergePatch(target, patch)).toEqual(result);
  });

  it('patches the RFC §3 example document', () => {
    const target = {
      title: 'Goodbye!',
      author: { givenName: 'John', familyName: 'Doe' },
      tags: ['example', 'sample'],
      content: 'This will be unchanged',
    };
    const patch = {
      title: 'Hello!',
      phoneNumber: '+01-123-456-7890',
      author: { familyName: null },
      tags: ['example'],
    };
    expect(applyMergePatch(target, patch)).toEqual({
      title: 'Hello!',
      author: { givenName: 'John' },
      tags: ['example'],
      content: 'This will be unchanged',
      phoneNumber: '+01-123-456-7890',
    });
  });
});

describe('mergeObjectPatch', () => {
  it('merges nested objects field by field', () => {
    const target = { sip: { proxy: 'a', port: 5060, tls: { on: false } }, lang: 'en' };
    const patch = { sip: { port: 5061, tls: { cert: 'x' } } };
    expect(mergeObjectPatch(target, patch)).toEqual({
      sip: { proxy: 'a', port: 5061, tls: { on: false, cert: 'x' } },
      lang: 'en',
    });
  });

  it('removes nested keys with null and ignores nulls for absent keys', () => {
    expect(mergeObjectPatch({ a: { b: 1, c: 2 } }, { a: { b: null }, z: null })).toEqual({ a: { c: 2 } });
  });

  it('drops nulls inside a new nested object, as the RFC says', () => {
    expect(mergeObjectPatch({}, { a: { b: null, c: 1 } })).toEqual({ a: { c: 1 } });
  });

  it('replaces an object with a scalar and a scalar with an object', () => {
    expect(mergeObjectPatch({ a: { b: 1 }, c: 1 }, { a: 2, c: { d: 3 } })).toEqual({ a: 2, c: { d: 3 } });
  });

  it('an empty patch changes nothing', () => {
    expect(mergeObjectPatch({ a: 1 }, {})).toEqual({ a: 1 });
  });

  it('never mutates the target or the patch, nor shares their objects', () => {
    const target: JsonObject = { a: { b: 1 }, list: [{ x: 1 }] };
    const patch: JsonObject = { a: { c: 2 }, n: { m: [1] }, list: null };
    const targetBefore = structuredClone(target);
    const patchBefore = structuredClone(patch);
    const result = mergeObjectPatch(target, patch);
    expect(target).toEqual(targetBefore);
    expect(patch).toEqual(patchBefore);
    (result.n as JsonObject).m = 'changed';
    (result.a as JsonObject).b = 'changed';
    expect(patch).toEqual(patchBefore);
    expect(target).toEqual(targetBefore);
  });

  describe('keys that name prototype members: data, kept as given, never a prototype change', () => {
    const ownKeys = (v: JsonValue) => Object.keys(v as object);

    it('keeps a __proto__ key as an own key and leaves every prototype alone', () => {
      const patch = JSON.parse('{"__proto__":{"polluted":1},"ok":1}') as JsonObject;
      const result = mergeObjectPatch({}, patch);
      expect(ownKeys(result)).toEqual(['__proto__', 'ok']);
      expect(Object.getOwnPropertyDescriptor(result, '__proto__')?.value).toEqual({ polluted: 1 });
      expect(Object.getPrototypeOf(result)).toBe(Object.prototype);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect((result as Record<string, unknown>).polluted).toBeUndefined();
      expect(JSON.stringify(result)).toBe('{"__proto__":{"polluted":1},"ok":1}');
    });

    it('keeps __proto__ keys nested in the patch and inside arrays, and merges into one', () => {
      const patch = JSON.parse(
        '{"a":{"__proto__":{"polluted":1}},"l":[{"__proto__":{"polluted":1}}]}',
      ) as JsonObject;
      const result = applyMergePatch({ a: { b: 1 } }, patch) as JsonObject;
      expect(JSON.stringify(result)).toBe(
        '{"a":{"b":1,"__proto__":{"polluted":1}},"l":[{"__proto__":{"polluted":1}}]}',
      );
      expect(Object.getPrototypeOf(result.a)).toBe(Object.prototype);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      const merged = mergeObjectPatch(result.a as JsonObject, JSON.parse('{"__proto__":{"more":2}}'));
      expect(JSON.stringify(merged)).toBe('{"b":1,"__proto__":{"polluted":1,"more":2}}');
      const removed = mergeObjectPatch(result.a as JsonObject, JSON.parse('{"__proto__":null}'));
      expect(JSON.stringify(removed)).toBe('{"b":1}');
    });

    it('copies a __proto__ key in a deep copy, without touching the copy’s prototype', () => {
      const value = JSON.parse('{"x":{"__proto__":[1]}}') as JsonValue;
      const copy = cloneJson(value) as JsonObject;
      expect(JSON.stringify(copy)).toBe('{"x":{"__proto__":[1]}}');
      expect(Object.getPrototypeOf(copy.x)).toBe(Object.prototype);
    });

    it.each(['constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf'])(
      'sets, merges and removes a %s key like any other',
      (key) => {
        const set = mergeObjectPatch({}, { [key]: { x: 'yes' } });
        expect(ownKeys(set)).toEqual([key]);
        expect(set[key]).toEqual({ x: 'yes' });
        const merged = mergeObjectPatch(set, { [key]: { y: 1 } });
        expect(merged[key]).toEqual({ x: 'yes', y: 1 });
        expect(mergeObjectPatch(merged, { [key]: null })).toEqual({});
        expect(mergeObjectPatch({ a: 1 }, { [key]: null })).toEqual({ a: 1 });
        expect(({} as Record<string, unknown>)[key]).toBe((Object.prototype as Record<string, unknown>)[key]);
      },
    );

    it('keeps constructor and prototype as ordinary data keys', () => {
      const patch = JSON.parse(
        '{"constructor":{"prototype":{"polluted":1}},"prototype":{"polluted":1}}',
      ) as JsonObject;
      const result = mergeObjectPatch({}, patch);
      expect(result).toEqual({ constructor: { prototype: { polluted: 1 } }, prototype: { polluted: 1 } });
      expect(Object.getPrototypeOf(result)).toBe(Object.prototype);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.prototype.constructor).toBe(Object);
    });

    it('patches a target that has a constructor key', () => {
      expect(mergeObjectPatch({ constructor: { a: 1 } }, { constructor: { b: 2 } })).toEqual({
        constructor: { a: 1, b: 2 },
      });
    });
  });
});

describe('isJsonObject', () => {
  it('accepts plain objects', () => {
    expect(isJsonObject({})).toBe(true);
    expect(isJsonObject({ a: 1 })).toBe(true);
    expect(isJsonObject(JSON.parse('{"a":[1]}'))).toBe(true);
    expect(isJsonObject(Object.create(null))).toBe(true);
  });

  it('refuses everything else', () => {
    for (const v of [null, undefined, [], [1], 'x', 1, true, new Date(), new Map(), () => 1]) {
      expect(isJsonObject(v)).toBe(false);
    }
  });
});

describe('cloneJson', () => {
  it('copies deeply', () => {
    const v = { a: [{ b: 1 }] };
    const copy = cloneJson(v) as typeof v;
    expect(copy).toEqual(v);
    expect(copy.a[0]).not.toBe(v.a[0]);
  });
});
