import { createHash, timingSafeEqual } from 'node:crypto';

export interface AdminIdentity {
  name: string;
  scope: '*' | string[];
}

/** An admin as listed in the cluster config (SPEC §4 `admins`). */
export interface AdminRecord {
  name: string;
  tokenSha256: string;
  scope: '*' | string[];
}

const SHA256_BYTES = 32;
const BEARER_PATTERN = /^Bearer[ \t]+(\S+)[ \t]*$/i;

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** The token of an `Authorization: Bearer <token>` header (SPEC §5); the scheme is case-insensitive. */
export function bearerToken(authorization: string | undefined): string | undefined {
  return authorization?.trim().match(BEARER_PATTERN)?.[1];
}

/**
 * SPEC §9: the admin whose `tokenSha256` matches the token. Digests are compared in constant time and
 * every admin is compared, so the time taken says nothing about which admin (if any) matched.
 */
export function authenticateAdmin(
  admins: readonly AdminRecord[],
  token: string | undefined,
): AdminIdentity | undefined {
  if (token === undefined || token === '') return undefined;
  const presented = createHash('sha256').update(token, 'utf8').digest();
  let match: AdminRecord | undefined;
  for (const admin of admins) {
    const expected = Buffer.from(admin.tokenSha256, 'hex');
    // A malformed configured digest still costs one compare, but never matches.
    const wellFormed = expected.length === SHA256_BYTES;
    const equal = timingSafeEqual(presented, wellFormed ? expected : Buffer.alloc(SHA256_BYTES));
    if (equal && wellFormed && match === undefined) match = admin;
  }
  if (!match) return undefined;
  return { name: match.name, scope: match.scope === '*' ? '*' : [...match.scope] };
}

/**
 * SPEC §4: scope `*` or a list of domains, each with its descendants (`eu.sales.acme` is within
 * `acme`; `acmex` is not). A list holding `*`, as the config file writes it, allows everything.
 */
export function scopeAllows(scope: '*' | string[], domainName: string): boolean {
  if (scope === '*') return true;
  return scope.some((domain) => domain === '*' || domainName === domain || domainName.endsWith(`.${domain}`));
}
