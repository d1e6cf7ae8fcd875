import {
  DEFAULT_DATABASE_QUERY_TIMEOUT_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  EnvError,
  readSiteEnv,
} from './site-env';

describe('readSiteEnv (SPEC §4)', () => {
  const base = { SITE_ID: 'site-a', CLUSTER_CONFIG: '/etc/dd/cluster.yml' };

  it('gives a request 30 s to arrive unless REQUEST_TIMEOUT_MS says otherwise', () => {
    expect(readSiteEnv(base).requestTimeoutMs).toBe(DEFAULT_REQUEST_TIMEOUT_MS);
    expect(DEFAULT_REQUEST_TIMEOUT_MS).toBe(30_000);
    expect(readSiteEnv({ ...base, REQUEST_TIMEOUT_MS: '1500' }).requestTimeoutMs).toBe(1500);
  });

  it.each(['abc', '0', '-5', '2.5', '1e3x'])('refuses REQUEST_TIMEOUT_MS=%s, naming the variable', (raw) => {
    expect(() => readSiteEnv({ ...base, REQUEST_TIMEOUT_MS: raw })).toThrow(EnvError);
    expect(() => readSiteEnv({ ...base, REQUEST_TIMEOUT_MS: raw })).toThrow(
      `environment variable REQUEST_TIMEOUT_MS must be a positive integer, got "${raw}"`,
    );
  });

  it('gives a DomainDB query 30 s to be answered unless DATABASE_QUERY_TIMEOUT_MS says otherwise (0: never)', () => {
    expect(readSiteEnv(base).databaseQueryTimeoutMs).toBe(DEFAULT_DATABASE_QUERY_TIMEOUT_MS);
    expect(DEFAULT_DATABASE_QUERY_TIMEOUT_MS).toBe(30_000);
    expect(readSiteEnv({ ...base, DATABASE_QUERY_TIMEOUT_MS: '1500' }).databaseQueryTimeoutMs).toBe(1500);
    expect(readSiteEnv({ ...base, DATABASE_QUERY_TIMEOUT_MS: '0' }).databaseQueryTimeoutMs).toBe(0);
  });

  it.each(['abc', '-5', '2.5'])('refuses DATABASE_QUERY_TIMEOUT_MS=%s, naming the variable', (raw) => {
    expect(() => readSiteEnv({ ...base, DATABASE_QUERY_TIMEOUT_MS: raw })).toThrow(
      `environment variable DATABASE_QUERY_TIMEOUT_MS must be a whole number of milliseconds, got "${raw}"`,
    );
  });

  it('takes LOG_LEVEL as one of pino levels (info unless set), and refuses another, naming the variable', () => {
    expect(readSiteEnv(base).logLevel).toBe('info');
    expect(readSiteEnv({ ...base, LOG_LEVEL: 'warn' }).logLevel).toBe('warn');
    expect(() => readSiteEnv({ ...base, LOG_LEVEL: 'loud' })).toThrow(
      'environment variable LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"',
    );
  });
});
