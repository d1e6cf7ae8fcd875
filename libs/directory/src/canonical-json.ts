/** SPEC §8: one serialization of a JSON value, so both sides hash the same bytes. */
import type { JsonValue } from './model';
import { isJsonObject } from './merge-patch';

/** JSON.stringify with object keys sorted recursively and no whitespace. */
export function canonicalJson(v: JsonValue): string {
  if (Array.isArray(v)) return '[' + v.map(canonicalJson).join(',') + ']';
  if (isJsonObject(v)) {
    const members = Object.keys(v)
      .sort()
      .map((key) => JSON.stringify(key) + ':' + canonicalJson(v[key]));
    return '{' + members.join(',') + '}';
  }
  return JSON.stringify(v);
}
