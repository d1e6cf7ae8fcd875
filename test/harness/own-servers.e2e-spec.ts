import Redis from 'ioredis';
import { Client } from 'pg';
import { OwnPostgres, OwnRedis } from './own-servers';

/** The stores outage tests stop, restart and freeze — never the shared ones — tested on their own. */
describe('stores of a test’s own', () => {
  describe('OwnRedis', () => {
    let redis: OwnRedis;
    const client = () =>
      new Redis(redis.url, {
        lazyConnect: true,
        connectTimeout: 500,
        commandTimeout: 500,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      }).on('error', () => undefined); // each call's promise says what failed
    const ping = async () => {
      const c = client();
      try {
        await c.connect();
        return await c.ping();
      } finally {
        c.disconnect();
      }
    };

    beforeAll(async () => {
      redis = await OwnRedis.start();
    });
    afterAll(() => redis?.destroy());

    it('refuses connections once stopped, and keeps its data over a restart on the same port', async () => {
      const c = client();
      await c.connect();
      await c.set('kept', 'yes');
      c.disconnect();
      await redis.stop();
      await expect(ping()).rejects.toThrow();
      await redis.start();
      const again = client();
      await again.connect();
      expect(await again.get('kept')).toBe('yes');
      again.disconnect();
    });

    it('answers nothing while frozen, and everything once thawed', async () => {
      redis.freeze();
      try {
        await expect(ping()).rejects.toThrow();
      } finally {
        redis.thaw();
      }
      expect(await ping()).toBe('PONG');
    });
  });

  describe('OwnPostgres', () => {
    let pg: OwnPostgres;
    const query = async (url: string, sql: string) => {
      const c = new Client({ connectionString: url, connectionTimeoutMillis: 2000 });
      await c.connect();
      try {
        return (await c.query(sql)).rows;
      } finally {
        await c.end();
      }
    };

    beforeAll(async () => {
      pg = await OwnPostgres.start();
    }, 60_000);
    afterAll(() => pg?.destroy());

    it('refuses connections once stopped, and keeps its data over a restart on the same port', async () => {
      const url = await pg.createDatabase('kept');
      await query(url, 'CREATE TABLE t (v text); INSERT INTO t VALUES ($$yes$$)');
      await pg.stop();
      await expect(query(url, 'SELECT 1')).rejects.toThrow(/ECONNREFUSED/);
      await pg.start();
      expect(await query(url, 'SELECT v FROM t')).toEqual([{ v: 'yes' }]);
    });
  });
});
