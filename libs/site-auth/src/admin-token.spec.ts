import { AdminRecord, authenticateAdmin, bearerToken, scopeAllows, sha256Hex } from './admin-token';

const admins: readonly AdminRecord[] = [
  { name: 'ops', tokenSha256: sha256Hex('ops-token'), scope: '*' },
  { name: 'acme-admin', tokenSha256: sha256Hex('acme-token').toUpperCase(), scope: ['acme', 'globex'] },
  { name: 'broken', tokenSha256: 'not-hex', scope: '*' },
];

describe('admin tokens (SPEC §9)', () => {
  it('hashes a token to lowercase hex SHA-256', () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('identifies the admin whose tokenSha256 matches the token', () => {
    expect(authenticateAdmin(admins, 'ops-token')).toEqual({ name: 'ops', scope: '*' });
    expect(authenticateAdmin(admins, 'acme-token')).toEqual({
      name: 'acme-admin',
      scope: ['acme', 'globex'],
    });
  });

  it('refuses a wrong token', () => {
    expect(authenticateAdmin(admins, 'ops-token ')).toBeUndefined();
    expect(authenticateAdmin(admins, 'guess')).toBeUndefined();
  });

  it('refuses a missing or empty token', () => {
    expect(authenticateAdmin(admins, undefined)).toBeUndefined();
    expect(authenticateAdmin(admins, '')).toBeUndefined();
  });

  it('never matches an admin whose configured digest is malformed', () => {
    expect(authenticateAdmin(admins, 'not-hex')).toBeUndefined();
    expect(authenticateAdmin([{ name: 'short', tokenSha256: 'ab', scope: '*' }], 'x')).toBeUndefined();
  });

  it('refuses everyone when no admin is configured', () => {
    expect(authenticateAdmin([], 'ops-token')).toBeUndefined();
  });

  it('hands out a copy of the scope, not the config entry', () => {
    const identity = authenticateAdmin(admins, 'acme-token');
    expect(identity?.scope).not.toBe(admins[1].scope);
  });
});

describe('Authorization header', () => {
  it('takes the token of a Bearer header, whatever the case of the scheme', () => {
    expect(bearerToken('Bearer abc.def')).toBe('abc.def');
    expect(bearerToken('bearer abc')).toBe('abc');
    expect(bearerToken('BEARER   abc  ')).toBe('abc');
  });

  it('has no token when the header is missing, empty or of another scheme', () => {
    expect(bearerToken(undefined)).toBeUndefined();
    expect(bearerToken('')).toBeUndefined();
    expect(bearerToken('Bearer')).toBeUndefined();
    expect(bearerToken('Bearer ')).toBeUndefined();
    expect(bearerToken('Basic dXNlcjpwYXNz')).toBeUndefined();
    expect(bearerToken('Bearer two tokens')).toBeUndefined();
  });

  it('authenticates straight from the header', () => {
    expect(authenticateAdmin(admins, bearerToken('Bearer ops-token'))?.name).toBe('ops');
    expect(authenticateAdmin(admins, bearerToken(undefined))).toBeUndefined();
  });
});

describe('admin scope (SPEC §4)', () => {
  it('lets scope * reach every domain', () => {
    expect(scopeAllows('*', 'master')).toBe(true);
    expect(scopeAllows('*', 'eu.sales.acme')).toBe(true);
  });

  it('treats a list holding *, as the config writes it, as every domain', () => {
    expect(scopeAllows(['*'], 'globex')).toBe(true);
  });

  it('allows a listed domain itself', () => {
    expect(scopeAllows(['acme'], 'acme')).toBe(true);
  });

  it('allows every descendant of a listed domain, however deep', () => {
    expect(scopeAllows(['acme'], 'sales.acme')).toBe(true);
    expect(scopeAllows(['acme'], 'eu.sales.acme')).toBe(true);
    expect(scopeAllows(['sales.acme'], 'x.y.eu.sales.acme')).toBe(true);
  });

  it('does not take acmex to be within acme', () => {
    expect(scopeAllows(['acme'], 'acmex')).toBe(false);
    expect(scopeAllows(['acme'], 'sales.acmex')).toBe(false);
    expect(scopeAllows(['acme'], 'xacme')).toBe(false);
  });

  it('does not reach a listed domain’s parent or siblings', () => {
    expect(scopeAllows(['sales.acme'], 'acme')).toBe(false);
    expect(scopeAllows(['sales.acme'], 'hr.acme')).toBe(false);
  });

  it('allows any of several listed domains and nothing with an empty list', () => {
    expect(scopeAllows(['acme', 'globex'], 'eu.globex')).toBe(true);
    expect(scopeAllows([], 'acme')).toBe(false);
  });
});
