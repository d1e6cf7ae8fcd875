/** SPEC §3, §5: settings and attributes are stored exactly as given, or refused — never changed on the way. */
import type { JsonValue } from './model';

/** SPEC §5: JSON nested deeper than 64 levels is refused (`{}` is one level, `{"a":{}}` two). */
export const MAX_JSON_DEPTH = 64;

/** An unpaired UTF-16 surrogate (`u` mode sees a pair as one code point). */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * A key refused wherever it appears: kept as an own key it turns into a prototype change in the first
 * `copy[key] = value` or `Object.assign` that meets it (ours, a client's or a library's).
 */
const PROTO_KEY = '__proto__';

/** Why a string cannot be stored as given, or null. */
function textProblem(text: string): string | null {
  // PostgreSQL's jsonb refuses U+0000; UTF-8 cannot carry an unpaired surrogate (it would come back as U+FFFD).
  if (text.includes('\u0000')) return 'holds a NUL character (U+0000)';
  if (LONE_SURROGATE.test(text)) return 'holds an unpaired UTF-16 surrogate';
  return null;
}

function pathOf(what: string, path: readonly (string | number)[]): string {
  return what + path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${JSON.stringify(p)}`)).join('');
}

/**
 * Why a JSON value (settings, attributes, a merge patch) cannot be stored exactly as given, or null
 * when it can: nested deeper than MAX_JSON_DEPTH, a key or string with NUL or an unpaired surrogate,
 * or a `__proto__` key. `what` names the value in the message (`settings`, `attributes`).
 */
export function jsonValueProblem(value: JsonValue, what: string): string | null {
  const path: (string | number)[] = [];
  // Recursion is safe: it stops one level past MAX_JSON_DEPTH.
  const visit = (v: JsonValue, depth: number): string | null => {
    if (typeof v === 'string') {
      const problem = textProblem(v);
      return problem && `${pathOf(what, path)} ${problem}`;
    }
    if (v === null || typeof v !== 'object') return null;
    if (depth > MAX_JSON_DEPTH) return `${what} nests deeper than ${MAX_JSON_DEPTH} levels`;
    const entries: [string | number, JsonValue][] = Array.isArray(v) ? [...v.entries()] : Object.entries(v);
    for (const [key, item] of entries) {
      if (typeof key === 'string') {
        const problem = key === PROTO_KEY ? 'is not accepted as a key' : textProblem(key);
        if (problem) return `${pathOf(what, path)}: the key ${JSON.stringify(key)} ${problem}`;
      }
      path.push(key);
      const problem = visit(item, depth + 1);
      path.pop();
      if (problem) return problem;
    }
    return null;
  };
  return visit(value, 1);
}
