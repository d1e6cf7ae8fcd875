/** SPEC §3: the name rules of domains, kinds and entities. */

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const KIND = /^[a-z][a-z0-9_-]{0,62}$/;
const MAX_DOMAIN_NAME = 253;
const MAX_ENTITY_NAME = 255;

/** Lowercase DNS-like labels joined by dots, at most 253 characters. */
export function isValidDomainName(name: unknown): name is string {
  return (
    typeof name === 'string' &&
    name.length > 0 &&
    name.length <= MAX_DOMAIN_NAME &&
    name.split('.').every((label) => LABEL.test(label))
  );
}

/** The parent's name, derived from the child's: a child is exactly one label + '.' + its parent. */
export function parentOf(name: string): string | null {
  const dot = name.indexOf('.');
  return dot === -1 ? null : name.slice(dot + 1);
}

/** True for `root` itself and every descendant of it (a zone, SPEC §4). */
export function isWithin(name: string, root: string): boolean {
  return name === root || name.endsWith('.' + root);
}

/** Number of labels: 1 for a first-level domain. */
export function depth(name: string): number {
  return name.split('.').length;
}

export function isValidKind(kind: unknown): kind is string {
  return typeof kind === 'string' && KIND.test(kind);
}

/** A control character (C0, DEL, C1) or an unpaired UTF-16 surrogate (`u` mode sees a pair as one code point). */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNCLEAN = /[\u0000-\u001f\u007f-\u009f]|\p{Cs}/u;

/**
 * Text a store keeps exactly as given: no control characters (SPEC §3: names have none; PostgreSQL
 * refuses NUL) and no unpaired surrogate (UTF-8 cannot carry one: it would come back as U+FFFD).
 */
export function isCleanText(text: string): boolean {
  return !UNCLEAN.test(text);
}

/** 1–255 characters (code points), no '/', no control characters (C0, DEL, C1), no unpaired surrogates. */
export function isValidEntityName(name: unknown): name is string {
  if (typeof name !== 'string' || name.includes('/') || !isCleanText(name)) return false;
  const length = Array.from(name).length;
  return length >= 1 && length <= MAX_ENTITY_NAME;
}

export type DomainCreateCheck =
  { ok: true; name: string; parent: string | null } | { ok: false; message: string };

/**
 * Checks the name and parent of a new domain. `parent` may be left out (undefined): it is then
 * derived from the name; when given (a name or null) it must be exactly the name's parent.
 */
export function checkDomainCreate(name: unknown, parent: unknown): DomainCreateCheck {
  if (!isValidDomainName(name)) {
    return {
      ok: false,
      message: `invalid domain name ${JSON.stringify(name)}: lowercase labels [a-z0-9-] joined by dots, at most 253 characters`,
    };
  }
  const derived = parentOf(name);
  if (parent === undefined || parent === derived) return { ok: true, name, parent: derived };
  if (parent !== null && typeof parent !== 'string') {
    return { ok: false, message: 'parent must be a domain name or null' };
  }
  return {
    ok: false,
    message:
      derived === null
        ? `"${name}" is a first-level domain: its parent must be null, not ${JSON.stringify(parent)}`
        : `the parent of "${name}" is "${derived}", not ${JSON.stringify(parent)}: a child's name is one label + '.' + its parent's name`,
  };
}
