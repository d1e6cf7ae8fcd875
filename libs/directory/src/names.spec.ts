import {
  checkDomainCreate,
  depth,
  isCleanText,
  isValidDomainName,
  isValidEntityName,
  isValidKind,
  isWithin,
  parentOf,
} from './names';

describe('domain names (SPEC §3)', () => {
  it.each(['acme', 'sales.acme', 'eu.sales.acme', 'a', '0', 'a-b', 'x1.y2', 'a'.repeat(63)])(
    'accepts %s',
    (name) => expect(isValidDomainName(name)).toBe(true),
  );

  it.each([
    ['empty', ''],
    ['uppercase', 'Acme'],
    ['leading hyphen', '-acme'],
    ['trailing hyphen', 'acme-'],
    ['empty label', 'sales..acme'],
    ['leading dot', '.acme'],
    ['trailing dot', 'acme.'],
    ['underscore', 'ac_me'],
    ['space', 'ac me'],
    ['a 64-character label', 'a'.repeat(64)],
    ['non-ASCII', 'acmé'],
  ])('refuses %s', (_why, name) => expect(isValidDomainName(name)).toBe(false));

  it('accepts 253 characters and refuses 254', () => {
    const label = 'a'.repeat(63);
    const name253 = [label, label, label, 'a'.repeat(61)].join('.');
    expect(name253).toHaveLength(253);
    expect(isValidDomainName(name253)).toBe(true);
    expect(isValidDomainName(name253 + 'a')).toBe(false);
  });

  it('refuses what is not a string', () => {
    for (const v of [undefined, null, 1, {}, ['acme']]) expect(isValidDomainName(v)).toBe(false);
  });

  it('derives the parent from the name', () => {
    expect(parentOf('eu.sales.acme')).toBe('sales.acme');
    expect(parentOf('sales.acme')).toBe('acme');
    expect(parentOf('acme')).toBeNull();
  });

  it('counts the levels', () => {
    expect(depth('acme')).toBe(1);
    expect(depth('eu.sales.acme')).toBe(3);
  });

  it('knows what lies within a zone', () => {
    expect(isWithin('acme', 'acme')).toBe(true);
    expect(isWithin('eu.sales.acme', 'acme')).toBe(true);
    expect(isWithin('eu.sales.acme', 'sales.acme')).toBe(true);
    expect(isWithin('notacme', 'acme')).toBe(false);
    expect(isWithin('acme', 'sales.acme')).toBe(false);
    expect(isWithin('sales.globex', 'acme')).toBe(false);
  });
});

describe('kinds (SPEC §3)', () => {
  it.each(['user', 'group', 'did_number', 'sip-trunk', 'a', 'a' + 'b'.repeat(62)])('accepts %s', (kind) =>
    expect(isValidKind(kind)).toBe(true),
  );

  it.each(['', 'User', '1user', '_user', 'us er', 'user.x', 'a' + 'b'.repeat(63), 7])('refuses %s', (kind) =>
    expect(isValidKind(kind)).toBe(false),
  );
});

describe('entity names (SPEC §3)', () => {
  it.each(['alice', 'Alice Smith', '+33 1 23 45 67 89', 'ünïcödé', '🙂', 'a'.repeat(255), '🙂'.repeat(255)])(
    'accepts %s',
    (name) => expect(isValidEntityName(name)).toBe(true),
  );

  it.each([
    ['empty', ''],
    ['256 characters', 'a'.repeat(256)],
    ['a slash', 'a/b'],
    ['a NUL', 'a\u0000b'],
    ['a newline', 'a\nb'],
    ['a unit separator', 'a\u001fb'],
    ['a DEL', 'a\u007fb'],
    ['a C1 control', 'a\u0085b'],
    ['the last C1 control', 'a\u009fb'],
    ['a number', 42],
    ['null', null],
    ['a lone high surrogate', 'a\ud800b'],
    ['a lone low surrogate', 'a\udc00b'],
    ['a surrogate pair in the wrong order', '\ude00\ud83d'],
    ['a high surrogate at the end', 'alice\ud83d'],
  ])('refuses %s', (_why, name) => expect(isValidEntityName(name)).toBe(false));
});

/** Every control character: C0 (U+0000–U+001F), DEL (U+007F) and C1 (U+0080–U+009F). */
const CONTROLS = [
  ...Array.from({ length: 0x20 }, (_, i) => i),
  ...Array.from({ length: 0x21 }, (_, i) => 0x7f + i),
].map((code) => String.fromCharCode(code));
const LONE_SURROGATES = ['\ud800', '\udbff', '\udc00', '\udfff', '\ude00\ud83d'];

describe('clean text: what a store keeps exactly as given (SPEC §3, §5)', () => {
  it.each(['', 'alice', 'Zoë Müller +1 (HQ)', '🙂', '\ud83d\ude00', '\u00a0', '\u2028', '\uffff'])(
    'accepts %j',
    (text) => expect(isCleanText(text)).toBe(true),
  );

  it('refuses every control character, wherever it is', () => {
    for (const c of CONTROLS) {
      for (const text of [c, `a${c}`, `${c}a`, `a${c}b`])
        expect({ text, clean: isCleanText(text) }).toEqual({ text, clean: false });
    }
  });

  it('refuses every kind of unpaired surrogate, wherever it is', () => {
    for (const s of LONE_SURROGATES) {
      for (const text of [s, `a${s}`, `${s}a`, `🙂${s}🙂`])
        expect({ text, clean: isCleanText(text) }).toEqual({ text, clean: false });
    }
  });
});

describe('no name takes a control character or an unpaired surrogate (SPEC §3)', () => {
  const bad = [...CONTROLS, ...LONE_SURROGATES];

  it('refuses them in a domain name', () => {
    for (const c of bad) {
      for (const name of [`ac${c}me`, `acme${c}`, `${c}.acme`]) expect(isValidDomainName(name)).toBe(false);
    }
  });

  it('refuses them in a kind', () => {
    for (const c of bad) expect(isValidKind(`user${c}`)).toBe(false);
  });

  it('refuses them in an entity name', () => {
    for (const c of bad) {
      for (const name of [c, `alice${c}`, `${c}alice`]) expect(isValidEntityName(name)).toBe(false);
    }
  });
});

describe('checkDomainCreate (SPEC §3)', () => {
  it('derives the parent when none is given', () => {
    expect(checkDomainCreate('sales.acme', undefined)).toEqual({
      ok: true,
      name: 'sales.acme',
      parent: 'acme',
    });
    expect(checkDomainCreate('acme', undefined)).toEqual({ ok: true, name: 'acme', parent: null });
  });

  it('accepts the right parent', () => {
    expect(checkDomainCreate('eu.sales.acme', 'sales.acme')).toEqual({
      ok: true,
      name: 'eu.sales.acme',
      parent: 'sales.acme',
    });
    expect(checkDomainCreate('acme', null)).toEqual({ ok: true, name: 'acme', parent: null });
  });

  it.each([
    ['a grandparent', 'eu.sales.acme', 'acme'],
    ['an unrelated domain', 'sales.acme', 'globex'],
    ['null for a child', 'sales.acme', null],
    ['a parent for a first-level domain', 'acme', 'globex'],
    ['the domain itself', 'acme', 'acme'],
    ['a non-string', 'sales.acme', 3],
  ])('refuses %s as parent', (_why, name, parent) => {
    const check = checkDomainCreate(name, parent);
    expect(check.ok).toBe(false);
    if (!check.ok) expect(check.message).toMatch(/parent/);
  });

  it('refuses an invalid name', () => {
    const check = checkDomainCreate('Bad..Name', undefined);
    expect(check).toEqual({ ok: false, message: expect.stringContaining('invalid domain name') });
  });
});
