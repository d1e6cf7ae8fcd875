import { MAX_JSON_DEPTH } from '@dd/directory';
import { ApiError } from './errors';
import { nestsDeeperThan, parseJsonBody } from './json-body';

const parse = (text: string | Buffer, depth = MAX_JSON_DEPTH) =>
  parseJsonBody(typeof text === 'string' ? Buffer.from(text) : text, depth);

/** The 400 a body gets, or a failure if it parsed. */
function refusal(text: string | Buffer, depth?: number): ApiError {
  try {
    parse(text, depth);
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error(`expected ${String(text).slice(0, 40)} to be refused`);
}

describe('nestsDeeperThan: the depth of a JSON text, read before parsing (SPEC §5)', () => {
  it.each([
    ['1', 0],
    ['{}', 1],
    ['[]', 1],
    ['{"a":[{"b":[]}]}', 4],
    ['[[],[],[[]]]', 3],
  ])('finds %s %i levels deep', (text, levels) => {
    expect(nestsDeeperThan(text, levels)).toBe(false);
    if (levels > 0) expect(nestsDeeperThan(text, levels - 1)).toBe(true);
  });

  it('does not count brackets inside strings, escaped quotes included', () => {
    expect(nestsDeeperThan('{"a":"[[[{{{","b":"\\"[[[","c":"\\\\"}', 1)).toBe(false);
  });

  it('stops at the first level past the limit of a body of 500 000 brackets', () => {
    expect(nestsDeeperThan('['.repeat(500_000), MAX_JSON_DEPTH)).toBe(true);
  });
});

describe('parseJsonBody: a body is parsed as sent, or refused with 400 (SPEC §3, §5)', () => {
  it('parses JSON as it was sent: every key kept, constructor and prototype ones included', () => {
    const text =
      '{"name":"acme","settings":{"constructor":{"prototype":{"x":1}},"toString":1,"valueOf":"v","a":[1,"é🙂"]}}';
    expect(parse(text)).toEqual(JSON.parse(text));
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('parses a UTF-8 body with a byte order mark', () => {
    expect(parse(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a":1}')]))).toEqual({ a: 1 });
  });

  it(`accepts ${MAX_JSON_DEPTH} levels and refuses ${MAX_JSON_DEPTH + 1}, and 10000`, () => {
    const levels = (n: number) => '{"a":'.repeat(n - 1) + '{}' + '}'.repeat(n - 1);
    expect(() => parse(levels(MAX_JSON_DEPTH))).not.toThrow();
    expect(refusal(levels(MAX_JSON_DEPTH + 1)).message).toBe('the body nests deeper than 64 levels');
    expect(refusal('['.repeat(10_000) + ']'.repeat(10_000)).code).toBe('validation_failed');
  });

  it('allows the depth it is given (a site-to-site message wraps admin values)', () => {
    const levels = '['.repeat(70) + ']'.repeat(70);
    expect(() => parse(levels, 72)).not.toThrow();
  });

  it.each([
    ['an empty body', '', 'the body is empty; send a JSON document'],
    ['text that is not JSON', '{"name": ', /^the body is not valid JSON/],
    ['a __proto__ key', '{"name":"x","__proto__":{"polluted":1}}', 'the key "__proto__" is not accepted'],
    ['a nested __proto__ key', '{"settings":{"a":[{"__proto__":1}]}}', 'the key "__proto__" is not accepted'],
    ['an escaped __proto__ key', '{"\\u005f_proto__":1}', 'the key "__proto__" is not accepted'],
  ])('refuses %s', (_why, text, message) => {
    const error = refusal(text);
    expect({ status: error.status, code: error.code }).toEqual({ status: 400, code: 'validation_failed' });
    expect(error.message).toEqual(message instanceof RegExp ? expect.stringMatching(message) : message);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses bytes that are not UTF-8 rather than read them as U+FFFD', () => {
    for (const bad of [[0xff], [0xc3], [0xed, 0xa0, 0x80]]) {
      const body = Buffer.concat([Buffer.from('{"name":"a'), Buffer.from(bad), Buffer.from('"}')]);
      expect(refusal(body).message).toBe('the body is not valid UTF-8');
    }
  });
});
