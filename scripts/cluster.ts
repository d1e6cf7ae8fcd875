/**
 * SPEC §11 `npm run cluster`: the MDC and two SDCs as local processes, without Docker, against the
 * PostgreSQL and Redis named by DATABASE_URL / REDIS_URL. Creates what it needs in .cluster/ (site
 * keys, demo token, config, logs) and the database if it is missing; Ctrl-C stops all of them.
 * Plain Node only: it must not import @nestjs/* (ESM-only), it runs the built apps from dist/.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, relative, resolve } from 'node:path';
import { Client } from 'pg';
import { stringify } from 'yaml';
import { loadClusterConfig } from '../libs/cluster-config/src';
import { siteRedisUrls } from './redis-dbs';

const ROOT = resolve(__dirname, '..');
const STATE = join(ROOT, '.cluster');
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 5_000;

const DATABASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/domaindb';
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379/1';
/** site-a uses REDIS_URL's database, site-b the next (redis-dbs.ts). */
const SITE_REDIS = (() => {
  try {
    return siteRedisUrls(REDIS_URL, 2);
  } catch (err) {
    console.error(`npm run cluster: ${(err as Error).message}`);
    process.exit(1);
  }
})();
const BASE_PORT = Number(process.env.BASE_PORT || 4000);
if (!Number.isInteger(BASE_PORT) || BASE_PORT < 1 || BASE_PORT > 65533) {
  console.error(`npm run cluster: BASE_PORT must be a port number, got "${process.env.BASE_PORT}"`);
  process.exit(1);
}

interface Site {
  id: string;
  app: 'mdc' | 'sdc';
  port: number;
  /** what it keeps its data in, for the banner */
  store: string;
  env: Record<string, string>;
  readyPath: string;
}

interface Running {
  site: Site;
  child: ChildProcess;
  logFile: string;
  exited: Promise<void>;
}

const ZONES = [
  { domain: 'acme', sites: ['site-a'] },
  { domain: 'globex', sites: ['site-a', 'site-b'] },
];

function url(port: number): string {
  return `http://127.0.0.1:${port}`;
}

/** The URL with any password hidden, for printing. */
function shown(address: string): string {
  const parsed = new URL(address);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

/** A file of .cluster/ kept across runs, made once by `make`. */
function kept(file: string, make: () => string): string {
  const path = join(STATE, file);
  if (!existsSync(path)) writeFileSync(path, make(), { mode: 0o600 });
  return readFileSync(path, 'utf8').trim();
}

function keyFile(id: string): string {
  return join(STATE, 'keys', `${id}.key`);
}

/** SPEC §9: each site's Ed25519 key pair, made once; returns the public half for the config. */
function sitePublicKey(id: string): string {
  const privateKey = kept(relative(STATE, keyFile(id)), () =>
    generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  );
  return createPublicKey(createPrivateKey(privateKey)).export({ type: 'spki', format: 'pem' }).toString();
}

/** SPEC §4: the MDC needs the database to exist; it migrates it itself. */
async function ensureDatabase(): Promise<void> {
  const target = new URL(DATABASE_URL);
  const name = decodeURIComponent(target.pathname.slice(1));
  const server = new URL(DATABASE_URL);
  server.pathname = '/postgres';
  const client = new Client({ connectionString: server.toString(), connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (e) {
    throw new Error(`cannot reach PostgreSQL at ${shown(server.toString())}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount === 0) {
      await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
      console.log(`created database ${name}`);
    }
  } finally {
    await client.end();
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });
}

function writeConfig(sites: Site[], keys: Map<string, string>, token: string): string {
  const file = join(STATE, 'cluster.yml');
  const config = {
    masterDomain: 'master',
    sites: sites.map((site) => ({
      id: site.id,
      ...(site.app === 'mdc' ? { role: 'master' } : {}),
      url: url(site.port),
      publicKey: keys.get(site.id),
    })),
    zones: ZONES,
    admins: [{ name: 'ops', tokenSha256: createHash('sha256').update(token).digest('hex'), scope: ['*'] }],
  };
  writeFileSync(
    file,
    `# Written by scripts/cluster.ts (npm run cluster) at each start.\n${stringify(config)}`,
  );
  loadClusterConfig(file);
  return file;
}

function start(site: Site): Running {
  const logFile = join(STATE, 'logs', `${site.id}.log`);
  const log = openSync(logFile, 'a');
  // Its own process group: Ctrl-C reaches only this script, which stops the sites in order.
  // An SDC runs with its heap capped as deployed (package.json start:sdc, docker-compose NODE_OPTIONS).
  const heap = site.app === 'sdc' ? ['--max-old-space-size=128', '--max-semi-space-size=16'] : [];
  const child = spawn(process.execPath, [...heap, join(ROOT, 'dist', 'apps', site.app, 'src', 'main.js')], {
    env: { ...process.env, ...site.env },
    stdio: ['ignore', log, log],
    detached: true,
  });
  closeSync(log);
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  return { site, child, logFile, exited };
}

function alive(run: Running): boolean {
  return run.child.exitCode === null && run.child.signalCode === null;
}

function tail(file: string, lines = 20): string {
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

async function waitReady(run: Running): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (!alive(run)) throw new Error(`${run.site.id} exited before it was ready:\n${tail(run.logFile)}`);
    try {
      const res = await fetch(`${url(run.site.port)}${run.site.readyPath}`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${run.site.id} not ready after ${READY_TIMEOUT_MS} ms:\n${tail(run.logFile)}`);
}

/** SIGTERM (the apps shut down gracefully), SIGKILL after STOP_TIMEOUT_MS. */
async function stop(run: Running): Promise<void> {
  if (!alive(run)) return;
  run.child.kill('SIGTERM');
  const timer = setTimeout(() => run.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await run.exited;
  clearTimeout(timer);
}

const running: Running[] = [];
let stopping = false;

/** Stops every site, work sites first and the master last, then exits with `code`. */
async function stopAll(code: number): Promise<void> {
  stopping = true;
  for (const run of [...running].reverse()) await stop(run);
  process.exit(code);
}

async function main(): Promise<void> {
  for (const dir of ['', 'keys', 'logs']) mkdirSync(join(STATE, dir), { recursive: true });
  const token = kept('demo-token', () => randomBytes(24).toString('hex'));

  const common = (id: string, port: number) => ({
    SITE_ID: id,
    CLUSTER_CONFIG: join(STATE, 'cluster.yml'),
    PORT: String(port),
    SITE_KEY_FILE: keyFile(id),
    HOST: '127.0.0.1',
    LOG_LEVEL: process.env.LOG_LEVEL || 'info',
  });
  const sites: Site[] = [
    {
      id: 'master',
      app: 'mdc',
      port: BASE_PORT,
      store: `DomainDB ${shown(DATABASE_URL)}`,
      env: { ...common('master', BASE_PORT), DATABASE_URL },
      readyPath: '/health/ready',
    },
    ...['site-a', 'site-b'].map((id, i) => {
      const port = BASE_PORT + 1 + i;
      const redis = SITE_REDIS[i];
      return {
        id,
        app: 'sdc' as const,
        port,
        store: `Redis ${shown(redis)}`,
        env: { ...common(id, port), REDIS_URL: redis },
        readyPath: '/health/live',
      };
    }),
  ];

  for (const site of sites) {
    if (!(await portFree(site.port))) {
      throw new Error(`port ${site.port} (${site.id}) is in use; stop what holds it or set BASE_PORT`);
    }
  }
  await ensureDatabase();
  const keys = new Map(sites.map((site) => [site.id, sitePublicKey(site.id)]));
  const configFile = writeConfig(sites, keys, token);

  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      console.log(`\n${signal}: stopping the cluster…`);
      void stopAll(0);
    });
  }
  // A last resort if this script dies without its handlers: no site outlives it.
  process.on('exit', () => running.filter(alive).forEach((run) => run.child.kill('SIGKILL')));

  for (const site of sites) {
    const run = start(site);
    running.push(run);
    void run.exited.then(() => {
      if (stopping) return;
      const { exitCode, signalCode } = run.child;
      console.error(
        `\n${site.id} exited (${signalCode ?? `code ${exitCode}`}); stopping the others. ` +
          `Last lines of ${relative(ROOT, run.logFile)}:\n${tail(run.logFile)}`,
      );
      void stopAll(1);
    });
    await waitReady(run);
  }

  const rows = sites.map((s) => `  ${s.id.padEnd(7)} ${s.app.toUpperCase()}  ${url(s.port)}   ${s.store}`);
  const mdc = url(BASE_PORT);
  console.log(
    [
      '',
      'Domain directory cluster is up:',
      ...rows,
      '',
      `Config ${relative(ROOT, configFile)} — zones: ${ZONES.map((z) => `${z.domain} → ${z.sites.join(', ')}`).join('; ')}`,
      `Logs   ${relative(ROOT, join(STATE, 'logs'))}/<site>.log`,
      `Admin token (ops, scope *): ${token}`,
      '',
      'Try:',
      `  curl -s -X POST ${mdc}/api/v1/domains -H 'Authorization: Bearer ${token}' \\`,
      `       -H 'Content-Type: application/json' -d '{"name":"acme","settings":{"plan":"gold"}}'`,
      `  curl -s ${mdc}/api/v1/domains -H 'Authorization: Bearer ${token}'`,
      `  open ${mdc}/docs for the OpenAPI UI`,
      '',
      'Ctrl-C stops all three.',
    ].join('\n'),
  );
}

main().catch((err: unknown) => {
  console.error(`npm run cluster: ${err instanceof Error ? err.message : String(err)}`);
  if (!stopping) void stopAll(1);
});
