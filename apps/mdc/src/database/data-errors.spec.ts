import { dataRefusal } from './data-errors';

const pgError = (code: string, message: string, detail?: string) =>
  Object.assign(new Error(message), { code, ...(detail === undefined ? {} : { detail }) });

describe('dataRefusal: what PostgreSQL refused in a row, as a verdict message', () => {
  it('takes a data exception (class 22) with its detail', () => {
    expect(
      dataRefusal(
        pgError('22P05', 'unsupported Unicode escape sequence', '\\u0000 cannot be converted to text.'),
      ),
    ).toBe(
      'PostgreSQL refused the change: unsupported Unicode escape sequence: \\u0000 cannot be converted to text. (SQLSTATE 22P05)',
    );
    expect(dataRefusal(pgError('22021', 'invalid byte sequence for encoding "UTF8": 0x00'))).toBe(
      'PostgreSQL refused the change: invalid byte sequence for encoding "UTF8": 0x00 (SQLSTATE 22021)',
    );
  });

  it('takes an integrity violation (class 23)', () => {
    expect(dataRefusal(pgError('23505', 'duplicate key value violates unique constraint'))).toMatch(
      /SQLSTATE 23505/,
    );
  });

  it('is no verdict for any other failure: the push fails as a store outage would', () => {
    expect(
      dataRefusal(pgError('57P01', 'terminating connection due to administrator command')),
    ).toBeUndefined();
    expect(dataRefusal(pgError('40001', 'could not serialize access'))).toBeUndefined();
    expect(
      dataRefusal(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })),
    ).toBeUndefined();
    expect(dataRefusal(new Error('no code'))).toBeUndefined();
    expect(dataRefusal('22P05')).toBeUndefined();
  });

  it('keeps out of the message what PostgreSQL itself would refuse to store in the ledger', () => {
    const message = dataRefusal(
      pgError('23505', 'duplicate key', 'Key (name)=(a\u0000b\ud800) already exists.'),
    );
    expect(message).toBe(
      'PostgreSQL refused the change: duplicate key: Key (name)=(a\\u0000b\ufffd) already exists. (SQLSTATE 23505)',
    );
  });
});
