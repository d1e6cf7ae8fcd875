import { writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { ClusterFiles } from '../harness/cluster-files';
import { TestMdc } from '../harness/mdc';
import { ExitInfo, MDC_MAIN, SiteProcess } from '../harness/processes';
import { createTestDatabase, TestDatabase } from '../harness/services';

/** SPEC §4: the config is validated at start naming the bad key, and reloaded within 1 s. */

interface ConfigDoc {
  sites: Array<{ id: string; role?: string; url: string; publicKey: string }>;
  zones?: Array<{ domain: string; sites: string[] }>;
  admins?: Array<{ name: string; tokenSha256: string; scope: string | string[] }>;
}

const EXIT_TIMEOUT_MS = 20_000;

/** Starts the MDC and waits for it to exit; fails if it is still running after EXIT_TIMEOUT_MS. */
async function startExpectingExit(env: Record<string, string>): Promise<{ exit: ExitInfo; log: string }> {
  const proc = SiteProcess.spawn('mdc(bad start)', MDC_MAIN, env);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), EXIT_TIMEOUT_MS);
  });
  const outcome = await Promise.race([proc.exited, timedOut]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    await proc.kill();
    throw new Error(`the MDC was still running after ${EXIT_TIMEOUT_MS} ms:\n${proc.log}`);
  }
  // SPEC §10: a refused start is logged as JSON naming the site too
  await proc.closed;
  proc.checkLogs();
  return { exit: outcome, log: proc.log };
}

/** Polls `check` until it is true or `withinMs` has passed; answers how long it took, or null. */
async function tookEffectWithin(withinMs: number, check: () => Promise<boolean>): Promise<number | null> {
  const start = Date.now();
  while (Date.now() - start <= withinMs) {
    if (await check()) return Date.now() - start;
    await new Promise((r) => setTimeout(r, 25));
  }
  return null;
}

describe('MDC start-up with a bad environment or config', () => {
  let files: ClusterFiles;
  let db: TestDatabase;

  beforeAll(async () => {
    files = await ClusterFiles.create({ zones: [{ domain: 'acme', sites: ['site-a'] }] });
    db = await createTestDatabase('startup_bad');
  });
  afterAll(() => db?.drop());

  const env = (overrides: Record<string, string> = {}) => ({
    ...files.env(files.master.id),
    DATABASE_URL: db.url,
    ...overrides,
  });

  /** The good config text changed by `edit`. */
  function variant(edit: (doc: ConfigDoc) => void): string {
    const doc = parse(files.yaml()) as ConfigDoc;
    edit(doc);
    return stringify(doc);
  }

  async function expectRefusedStart(config: string, ...mentions: string[]): Promise<void> {
    files.writeText(config);
    const { exit, log } = await startExpectingExit(env());
    expect(exit.signal).toBeNull();
    expect(exit.code).toBeGreaterThan(0);
    for (const text of mentions) expect(log).toContain(text);
  }

  it('refuses a zone that names an unknown site, naming the key', async () => {
    await expectRefusedStart(
      variant((doc) => (doc.zones = [{ domain: 'acme', sites: ['site-a', 'nowhere'] }])),
      'zones[0].sites[1]',
      "unknown site 'nowhere'",
    );
  });

  it('refuses two masters', async () => {
    await expectRefusedStart(
      variant((doc) => (doc.sites[1].role = 'master')),
      'sites[1].role',
      'two masters',
    );
  });

  it('refuses a config with no master', async () => {
    await expectRefusedStart(
      variant((doc) => (doc.sites[0].role = 'site')),
      'no master',
    );
  });

  it('refuses a file that is not valid YAML, naming the line', async () => {
    await expectRefusedStart(`${files.yaml()}\nzones: [ { domain: acme\n`, '(yaml)', 'line ');
  });

  it('refuses two sites with one id', async () => {
    await expectRefusedStart(
      variant((doc) => (doc.sites[2].id = 'site-a')),
      'sites[2].id',
      "duplicate 'site-a'",
    );
  });

  it('refuses a public key that is not an Ed25519 PEM key', async () => {
    await expectRefusedStart(
      variant(
        (doc) =>
          (doc.sites[1].publicKey = '-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n'),
      ),
      'sites[1].publicKey',
      'not a valid Ed25519 public key',
    );
  });

  it('refuses an unknown key, naming it', async () => {
    await expectRefusedStart(
      variant((doc) => Object.assign(doc.sites[0], { colour: 'blue' })),
      'sites[0].colour',
      'unknown key',
    );
  });

  it('refuses to start when SITE_ID is not one of the sites', async () => {
    files.write();
    const { exit, log } = await startExpectingExit(env({ SITE_ID: 'site-z' }));
    expect(exit.signal).toBeNull();
    expect(exit.code).toBeGreaterThan(0);
    expect(log).toContain('SITE_ID site-z is not one of the sites');
  });

  it('refuses to start without DATABASE_URL', async () => {
    files.write();
    const { exit, log } = await startExpectingExit(env({ DATABASE_URL: '' }));
    expect(exit.signal).toBeNull();
    expect(exit.code).toBeGreaterThan(0);
    expect(log).toContain('DATABASE_URL');
  });

  it('refuses to start when the config file does not exist', async () => {
    const { exit, log } = await startExpectingExit(env({ CLUSTER_CONFIG: `${files.dir}/missing.yml` }));
    expect(exit.signal).toBeNull();
    expect(exit.code).toBeGreaterThan(0);
    expect(log).toContain('missing.yml');
  });
});

describe('MDC start-up on an empty database, and config reload', () => {
  let mdc: TestMdc;

  beforeAll(async () => {
    const files = await ClusterFiles.create({ zones: [{ domain: 'acme', sites: ['site-a'] }] });
    // info, so the reload messages can be read in the process's log
    mdc = await TestMdc.start('startup_reload', files, { LOG_LEVEL: 'info' });
  });
  afterAll(() => mdc?.stop());

  const tokenWorks = async (token: string) => (await mdc.admin(token).get('/domains?limit=1')).status === 200;
  const admin = (name: string) => ({ name, token: `${name}-token`, scope: '*' as const });

  it('comes up ready on an empty, freshly created database', async () => {
    const res = await fetch(`${mdc.url}/health/ready`);
    expect(res.status).toBe(200);
  });

  it('creates the master domain at first start', async () => {
    const res = await mdc.admin().get('/domains/master');
    expect(res.status).toBe(200);
    expect(res.body).toEqual(expect.objectContaining({ name: 'master', parent: null, settings: {} }));
    const tree = await mdc.admin().get('/domains');
    expect(tree.body.items).toEqual([{ name: 'master', parent: null, servedBy: ['master'] }]);
  });

  it('puts a config replaced by a rename in force within 1 s (a new admin token works)', async () => {
    expect(await tokenWorks('renamed-token')).toBe(false);
    mdc.files.write({ admins: [admin('renamed')] });
    const took = await tookEffectWithin(1000, () => tokenWorks('renamed-token'));
    expect(took).not.toBeNull();
    expect(await tokenWorks('ops-token')).toBe(true);
  });

  it('refuses a bad new file and keeps the old config in force', async () => {
    const bad = mdc.files
      .yaml({ admins: [admin('renamed'), admin('bad-file')] })
      .replace('role: site', 'role: master');
    mdc.files.writeText(bad);
    const logged = await tookEffectWithin(1000, async () => mdc.process.log.includes('two masters'));
    expect(logged).not.toBeNull();
    expect(mdc.process.log).toContain('refused, the previous config stays in force');
    expect(await tokenWorks('bad-file-token')).toBe(false);
    expect(await tokenWorks('renamed-token')).toBe(true);
    expect(await tokenWorks('ops-token')).toBe(true);
    expect((await fetch(`${mdc.url}/health/ready`)).status).toBe(200);
  });

  it('still picks up a good file written after a bad one', async () => {
    mdc.files.write({ admins: [admin('renamed'), admin('after-bad')] });
    const took = await tookEffectWithin(1000, () => tokenWorks('after-bad-token'));
    expect(took).not.toBeNull();
    expect(await tokenWorks('renamed-token')).toBe(true);
  });

  it('takes an admin out of force when a new file drops it', async () => {
    mdc.files.write({ admins: [admin('after-bad')] });
    const took = await tookEffectWithin(1000, async () => !(await tokenWorks('renamed-token')));
    expect(took).not.toBeNull();
    expect(await tokenWorks('after-bad-token')).toBe(true);
  });

  it('reloads on SIGHUP after an in-place write, and keeps running: SIGHUP is not a shutdown', async () => {
    let exit: ExitInfo | undefined;
    void mdc.process.exited.then((info) => (exit = info));
    writeFileSync(mdc.files.configFile, mdc.files.yaml({ admins: [admin('after-bad'), admin('sighup')] }));
    process.kill(mdc.process.pid!, 'SIGHUP');
    const took = await tookEffectWithin(1000, () => tokenWorks('sighup-token'));
    expect(took).not.toBeNull();
    const logged = await tookEffectWithin(1000, async () => mdc.process.log.includes('SIGHUP, reloading'));
    expect(logged).not.toBeNull();
    await new Promise((r) => setTimeout(r, 1000));
    expect(exit).toBeUndefined();
    expect(await tokenWorks('sighup-token')).toBe(true);
  });
});
