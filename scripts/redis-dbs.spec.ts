import { siteRedisUrls } from './redis-dbs';

describe('npm run cluster: a Redis database per site (SPEC §11)', () => {
  it('gives the first site the database REDIS_URL names and the next site the next one', () => {
    expect(siteRedisUrls('redis://127.0.0.1:6379/5', 2)).toEqual([
      'redis://127.0.0.1:6379/5',
      'redis://127.0.0.1:6379/6',
    ]);
  });

  it('starts at database 0 when REDIS_URL names none', () => {
    expect(siteRedisUrls('redis://127.0.0.1:6379', 2)).toEqual([
      'redis://127.0.0.1:6379/0',
      'redis://127.0.0.1:6379/1',
    ]);
    expect(siteRedisUrls('redis://127.0.0.1:6379/', 1)).toEqual(['redis://127.0.0.1:6379/0']);
  });

  it('keeps the credentials and the scheme', () => {
    expect(siteRedisUrls('rediss://:secret@cache.example:6380/2', 2)).toEqual([
      'rediss://:secret@cache.example:6380/2',
      'rediss://:secret@cache.example:6380/3',
    ]);
  });

  it('gives every site the whole Redis Cluster REDIS_URL names (no databases there)', () => {
    const url = 'redis-cluster://127.0.0.1:7000,127.0.0.1:7001';
    expect(siteRedisUrls(url, 2)).toEqual([url, url]);
  });

  it('refuses a database that is not a number', () => {
    expect(() => siteRedisUrls('redis://127.0.0.1:6379/cache', 2)).toThrow(/by number/);
  });
});
