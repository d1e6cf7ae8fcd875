/** SPEC §5: settings and attributes are patched with a JSON merge patch (RFC 7396). Never mutates inputs. */
import type { JsonObject, JsonValue } from './model';

/** A plain JSON object: not null, not an array, not a class instance. */
export function isJsonObject(v: unknown): v is JsonObject {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * Sets an own key, `__proto__` included: assigned, that key would change the object's prototype
 * instead. The rules refuse `__proto__` keys (json-value.ts); this keeps even those as given.
 */
function setKey(target: JsonObject, key: string, value: JsonValue): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

/** A deep copy of a JSON value, every key kept as it is. */
export function cloneJson(value: JsonValue): JsonValue {
  if (Array.isArray(value)) return value.map(cloneJson);
  if (isJsonObject(value)) {
    const copy: JsonObject = {};
    for (const key of Object.keys(value)) setKey(copy, key, cloneJson(value[key]));
    return copy;
  }
  return value;
}

/**
 * RFC 7396 §2: an object patch is merged key by key (null removes a key), anything else replaces
 * the target. `target` may be any JSON value (the RFC's examples patch arrays and scalars too).
 */
export function applyMergePatch(target: JsonValue, patch: JsonValue): JsonValue {
  if (!isJsonObject(patch)) return cloneJson(patch);
  return mergeObjectPatch(isJsonObject(target) ? target : {}, patch);
}

/** Merges an object patch into an object: the form every settings/attributes update takes. */
export function mergeObjectPatch(target: JsonObject, patch: JsonObject): JsonObject {
  const result = cloneJson(target) as JsonObject;
  for (const key of Object.keys(patch)) {
    const value = patch[key];
    if (value === null) {
      delete result[key];
    } else {
      // Own keys only: a key such as `constructor` or `toString` is data here, never the prototype's.
      setKey(result, key, applyMergePatch(Object.hasOwn(result, key) ? result[key] : null, value));
    }
  }
  return result;
}
