import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createServer, get as httpGet, Server } from 'node:http';
import Redis from 'ioredis';
import { parse } from 'yaml';
import { ClusterFiles, freePort } from './cluster-files';
import { TestCluster, waitReady } from './cluster';
import { withDb } from './domaindb';
import { holdsListener, SiteProcess } from './processes';
import { TcpRelay } from './relay';
import {
  createTestRedisDb,
  ownRedisServer,
  postgresServerUrl,
  redisServerUrl,
  TestRedisDb,
} from './services';

/**
 * GET on a connection of its own (a pooled keep-alive connection that a cut has reset fails on its
 * next use — as after any broken link — which is the client's business, not the relay's).
 */
function fresh(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpGet(url, { agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
  });
}

/** The harness the multi-site scenarios of SPEC §12 are written on, tested on its own. */
describe('test harness', () => {
  describe('TcpRelay', () => {
    let server: Server;
    let relay: TcpRelay;

    beforeAll(async () => {
      server = createServer((req, res) => res.end(`hello ${req.url}`));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      relay = await TcpRelay.start({ host: '127.0.0.1', port: (server.address() as { port: number }).port });
    });
    afterAll(async () => {
      await relay.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });

    const get = (path: string) => fresh(`${relay.url}${path}`).then((r) => r.body);

    it('forwards HTTP to its target', async () => {
      expect(await get('/one')).toBe('hello /one');
      expect(await get('/two')).toBe('hello /two');
    });

    it('makes requests fail fast once cut, and work again on the same port once restored', async () => {
      const port = relay.port;
      expect(await get('/before')).toBe('hello /before');
      relay.cut();
      const started = Date.now();
      await expect(get('/during')).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(1000);
      expect(relay.connections).toBe(0);
      relay.restore();
      expect(relay.port).toBe(port);
      expect(await get('/after')).toBe('hello /after');
    });

    it('resets a connection that is open when the link is cut', async () => {
      const slow = createServer(() => undefined);
      await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
      const hanging = await TcpRelay.start({
        host: '127.0.0.1',
        port: (slow.address() as { port: number }).port,
      });
      try {
        const pending = fetch(`${hanging.url}/never`, { signal: AbortSignal.timeout(5000) });
        await new Promise((r) => setTimeout(r, 200));
        expect(hanging.connections).toBe(1);
        const started = Date.now();
        hanging.cut();
        await expect(pending).rejects.toThrow();
        expect(Date.now() - started).toBeLessThan(1000);
      } finally {
        await hanging.close();
        slow.closeAllConnections();
        await new Promise((resolve) => slow.close(resolve));
      }
    });
  });

  describe('createTestRedisDb', () => {
    it('takes only an empty database: data it did not create is left alone', async () => {
      const probe = await createTestRedisDb('harness-probe');
      await probe.release();
      // the database the next caller would get now holds somebody else's data
      const theirs = new Redis(probe.url);
      try {
        await theirs.set('not-ours', 'keep');
        const next = await createTestRedisDb('harness-next');
        await next.release();
        expect(next.db).not.toBe(probe.db);
        expect(await theirs.get('not-ours')).toBe('keep');
      } finally {
        await theirs.del('not-ours');
        theirs.disconnect();
      }
    });

    it('gives two callers two different empty databases, and release frees them', async () => {
      const one = await createTestRedisDb('harness-one');
      let two: TestRedisDb | undefined;
      try {
        two = await createTestRedisDb('harness-two');
        expect(one.db).not.toBe(two.db);
        for (const db of [one, two]) {
          expect(db.db).toBeGreaterThanOrEqual(1);
          expect(db.db).toBeLessThanOrEqual(15);
          expect(db.url).toMatch(new RegExp(`^redis://.+/${db.db}$`));
        }

        const redis = new Redis(one.url);
        try {
          await redis.set('k', 'v');
          expect(await redis.dbsize()).toBe(1);
          await one.flush();
          expect(await redis.dbsize()).toBe(0);
          await redis.set('k', 'v');
        } finally {
          redis.disconnect();
        }
      } finally {
        await one.release();
        await two?.release();
      }

      const lock = new Redis(one.url.replace(/\/\d+$/, '/0'));
      try {
        expect(await lock.exists(`dd:test:redis-db:${one.db}`, `dd:test:redis-db:${two!.db}`)).toBe(0);
        await lock.select(one.db);
        expect(await lock.dbsize()).toBe(0);
      } finally {
        lock.disconnect();
      }
    });
  });

  describe('a redis-server of the test process’s own (SPEC §12)', () => {
    async function within(ms: number, condition: () => boolean): Promise<boolean> {
      for (const deadline = Date.now() + ms; !condition(); await new Promise((r) => setTimeout(r, 50))) {
        if (Date.now() > deadline) return false;
      }
      return true;
    }
    const installed = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
    const ownServer = installed && !process.env.TEST_REDIS_URL;

    // Skipped only where there is no redis-server binary (or TEST_REDIS_URL names the Redis): the title says so.
    const unless = (why: string | false) =>
      why ? (title: string, fn: () => Promise<void>) => it.skip(`${title} — skipped: ${why}`, fn) : it;
    unless(!installed ? 'no redis-server binary here' : ownServer ? false : 'TEST_REDIS_URL is set')(
      'is the tests’ Redis, never the one on 6379, and one per process',
      async () => {
        const url = await redisServerUrl();
        expect(new URL(url).port).not.toBe('6379');
        // the next test file of this process (a fresh module registry) finds the same server
        expect(await ownRedisServer()).toBe(url);
        expect(existsSync(join(tmpdir(), `dd-test-redis-${process.pid}.json`))).toBe(true);
        const redis = new Redis(url);
        try {
          expect(await redis.config('GET', 'save')).toEqual(['save', '']);
          expect(await redis.config('GET', 'appendonly')).toEqual(['appendonly', 'no']);
          expect(await redis.config('GET', 'bind')).toEqual(['bind', '127.0.0.1']);
        } finally {
          redis.disconnect();
        }
      },
    );

    unless(installed ? false : 'no redis-server binary here')(
      'stops when the process that started it ends',
      async () => {
        const owner = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
        try {
          const url = await ownRedisServer(owner.pid!);
          const redis = new Redis(url, {
            lazyConnect: true,
            maxRetriesPerRequest: 0,
            retryStrategy: () => null,
          });
          try {
            await redis.connect();
            expect(await redis.ping()).toBe('PONG');
            const { dir } = JSON.parse(
              readFileSync(join(tmpdir(), `dd-test-redis-${owner.pid}.json`), 'utf8'),
            ) as { dir: string };
            owner.kill('SIGKILL');
            // the server goes (its connection ends), then its directory and the note
            const registry = join(tmpdir(), `dd-test-redis-${owner.pid}.json`);
            expect(await within(5000, () => redis.status === 'end' && !existsSync(dir))).toBe(true);
            expect(existsSync(registry)).toBe(false);
          } finally {
            redis.disconnect();
          }
        } finally {
          owner.kill('SIGKILL');
        }
      },
    );
  });

  describe('ClusterFiles own config copies', () => {
    it('lists the overridden URL in the site’s copy only, and rewrites every copy on write', async () => {
      const files = await ClusterFiles.create({ zones: [{ domain: 'acme', sites: ['site-a'] }] });
      const urlsIn = (file: string) =>
        Object.fromEntries(
          (parse(readFileSync(file, 'utf8')) as { sites: Array<{ id: string; url: string }> }).sites.map(
            (s) => [s.id, s.url],
          ),
        );
      const copy = files.useOwnConfig('site-a', { master: 'http://127.0.0.1:1' });
      expect(files.env('site-a').CLUSTER_CONFIG).toBe(copy);
      expect(files.env('site-b').CLUSTER_CONFIG).toBe(files.configFile);
      expect(urlsIn(copy).master).toBe('http://127.0.0.1:1');
      expect(urlsIn(files.configFile).master).toBe(files.master.url);

      files.write({ zones: [{ domain: 'globex', sites: ['site-b'] }] });
      expect(parse(readFileSync(copy, 'utf8')).zones).toEqual([{ domain: 'globex', sites: ['site-b'] }]);
      expect(urlsIn(copy).master).toBe('http://127.0.0.1:1');

      files.writeText(files.yaml({ zones: [] }));
      expect(parse(readFileSync(copy, 'utf8')).zones).toEqual([]);
      expect(urlsIn(copy).master).toBe('http://127.0.0.1:1');
    });
  });

  describe('readiness', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dd-ready-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    /** A stand-in site answering `statuses[path]` (404 for any other path). */
    async function standIn(statuses: Record<string, number>): Promise<SiteProcess> {
      const main = join(dir, `site-${Object.values(statuses).join('-')}.js`);
      writeFileSync(
        main,
        `const statuses = ${JSON.stringify(statuses)};
         require('node:http')
           .createServer((req, res) => { res.statusCode = statuses[req.url] ?? 404; res.end(); })
           .listen(Number(process.env.PORT), '127.0.0.1');`,
      );
      return SiteProcess.spawn('stand-in', main, { PORT: String(await freePort()) });
    }

    it('falls back to /health/live while /health/ready is not served (404)', async () => {
      const proc = await standIn({ '/health/live': 200 });
      try {
        await waitReady(proc, '/health/ready', '/health/live', 5000);
        await expect(waitReady(proc, '/health/ready', undefined, 500)).rejects.toThrow(/not ready/);
      } finally {
        await proc.kill();
      }
    });

    it('takes no answer from another process holding the port as this one being ready', async () => {
      const holder = createServer((_req, res) => res.end('ready'));
      await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
      const port = (holder.address() as AddressInfo).port;
      const main = join(dir, 'site-port-taken.js');
      // fails to listen (EADDRINUSE) and lives on, as a site wedged in start-up would
      writeFileSync(
        main,
        `require('node:http').createServer().on('error', () => setInterval(() => {}, 1000))
           .listen(Number(process.env.PORT), '127.0.0.1');`,
      );
      const proc = SiteProcess.spawn('port-taken', main, { PORT: String(port) });
      try {
        expect(holdsListener(process.pid, port)).toBe(true);
        await expect(waitReady(proc, '/health/ready', undefined, 1500)).rejects.toThrow(/not ready/);
        await expect(proc.waitReady('/health/ready', 1500)).rejects.toThrow(/not ready/);
        expect(holdsListener(proc.pid!, port)).toBe(false);
      } finally {
        await proc.kill();
        holder.close();
      }
    });

    it('does not fall back while /health/ready answers, but not yet 200', async () => {
      const proc = await standIn({ '/health/ready': 503, '/health/live': 200 });
      try {
        await expect(waitReady(proc, '/health/ready', '/health/live', 500)).rejects.toThrow(/not ready/);
      } finally {
        await proc.kill();
      }
    });
  });

  describe('TestCluster', () => {
    let cluster: TestCluster | undefined;
    afterAll(() => cluster?.stop());

    it('starts the MDC and two SDCs (each on its own Redis db), each reaching the MDC through its relay', async () => {
      cluster = await TestCluster.start('harness', {
        zones: [{ domain: 'acme', sites: ['site-a'] }],
      });
      expect(cluster.workSites).toEqual(['site-a', 'site-b']);
      for (const site of ['master', 'site-a', 'site-b']) {
        expect((await fetch(`${cluster.url(site)}/health/live`)).status).toBe(200);
      }
      expect(cluster.redisUrl('site-a')).not.toBe(cluster.redisUrl('site-b'));
      const copy = parse(readFileSync(cluster.files.env('site-a').CLUSTER_CONFIG, 'utf8'));
      expect(copy.sites.find((s: { id: string }) => s.id === 'master').url).toBe(cluster.relay('site-a').url);
    });

    it('answers an admin call at the MDC', async () => {
      const created = await cluster!.admin('master').post('/domains', { name: 'acme' });
      expect(created.status).toBe(201);
      const read = await cluster!.admin('master').get('/domains/acme');
      expect(read.body).toMatchObject({ name: 'acme', settings: {} });
    });

    it('cuts and restores one site’s link to the MDC', async () => {
      const c = cluster!;
      const viaRelay = (site: string) => fresh(`${c.relay(site).url}/health/ready`);
      expect((await viaRelay('site-a')).status).toBe(200);
      c.cut('site-a');
      const started = Date.now();
      await expect(viaRelay('site-a')).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(1000);
      expect((await viaRelay('site-b')).status).toBe(200);
      c.restore('site-a');
      expect((await viaRelay('site-a')).status).toBe(200);
    });

    it('kills an SDC and restarts it on the same port', async () => {
      const c = cluster!;
      const before = c.process('site-a').pid!;
      expect(await c.kill('site-a')).toEqual({ code: null, signal: 'SIGKILL' });
      await expect(fetch(`${c.url('site-a')}/health/live`)).rejects.toThrow();
      await c.restart('site-a');
      expect(c.process('site-a').pid).not.toBe(before);
      expect((await fetch(`${c.url('site-a')}/health/live`)).status).toBe(200);
    });

    it('stops every process, frees the Redis databases and drops the database', async () => {
      const c = cluster!;
      const pids = ['master', 'site-a', 'site-b'].map((site) => c.process(site).pid!);
      const database = c.mdcDb.name;
      const redisDbs = c.workSites.map((site) => Number(new URL(c.redisUrl(site)).pathname.slice(1)));
      await c.stop();
      await c.stop();
      for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
      const { rows } = await withDb(await postgresServerUrl(), (db) =>
        db.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]),
      );
      expect(rows).toHaveLength(0);
      const lock = new Redis(c.redisUrl('site-a').replace(/\/\d+$/, '/0'));
      try {
        const locks = redisDbs.map((n) => `dd:test:redis-db:${n}`);
        expect(await lock.exists(...locks)).toBe(0);
      } finally {
        lock.disconnect();
      }
    });
  });
});
