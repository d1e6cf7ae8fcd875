import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestCluster } from '../harness/cluster';
import { freePort } from '../harness/cluster-files';

const DOMAINCTL = join(__dirname, '..', '..', 'dist', 'apps', 'domainctl', 'src', 'main.js');
/** A short cycle, so "cut off past its interval" takes seconds: stale after 2 × 1 s + 5 s. */
const SYNC_INTERVAL_MS = 1000;
const STALE_AFTER_MS = 2 * SYNC_INTERVAL_MS + 5000;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * SPEC §10: `domainctl` as an operator runs it — `node dist/apps/domainctl/src/main.js`, a child
 * process on this machine's Node, the token in DOMAINCTL_TOKEN — against a real 3-site cluster.
 */
describe('domainctl against a 3-site cluster', () => {
  let cluster: TestCluster;
  let dir: string;

  beforeAll(async () => {
    cluster = await TestCluster.start('cli', {
      zones: [
        { domain: 'acme', sites: ['site-a'] },
        { domain: 'globex', sites: ['site-a', 'site-b'] },
      ],
      cluster: { syncIntervalMs: SYNC_INTERVAL_MS },
    });
    dir = mkdtempSync(join(tmpdir(), 'domainctl-'));
    await Promise.all(cluster.workSites.map((site) => cluster.sync(site)));
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Runs `domainctl --site <site's URL> ...args` and resolves with its exit code and output. */
  function domainctl(site: string, ...args: string[]): Promise<Run> {
    const { NODE_OPTIONS: _jestOnly, ...env } = process.env;
    const child = spawn(
      process.env.DD_APP_NODE || process.execPath,
      [DOMAINCTL, '--site', cluster.url(site), ...args],
      { env: { ...env, DOMAINCTL_TOKEN: cluster.files.token }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    return new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) =>
        resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }),
      );
    });
  }

  /** The run, which must have exited with `code`; its output is in the failure message otherwise. */
  async function expectExit(code: number, run: Promise<Run>): Promise<Run> {
    const result = await run;
    if (result.code !== code)
      throw new Error(
        `exit ${result.code}, expected ${code}\n--- stdout\n${result.stdout}--- stderr\n${result.stderr}`,
      );
    return result;
  }

  const json = (run: Run) => JSON.parse(run.stdout);
  const statusRow = (run: Run, site: string) => run.stdout.split('\n').find((l) => l.startsWith(`${site} `));

  describe('status', () => {
    it('prints every site and exits 0 while all are in sync', async () => {
      const run = await expectExit(0, domainctl('master', 'status'));
      for (const site of ['master', 'site-a', 'site-b']) expect(statusRow(run, site)).toBeDefined();
      expect(statusRow(run, 'site-a')).toMatch(/\bsite\s+acme,globex\b.*\breachable\s+no$/);
      expect(statusRow(run, 'master')).toMatch(/\bself\s+no$/);
      expect(run.stdout).toContain('all 3 sites in sync');
    });

    it('exits 1 naming a site cut off from the MDC past staleAfterMs, and 0 again once it is back', async () => {
      cluster.cut('site-b');
      try {
        const failed = await expectExit(1, domainctl('site-b', 'sync', 'run'));
        expect(failed.stderr).toContain('the cycle failed: mdc_unreachable');
        const cutAt = Date.now();
        const stale = await cluster.waitFor(
          async () => {
            const run = await domainctl('master', 'status');
            return run.code === 1 ? run : undefined;
          },
          STALE_AFTER_MS + 10_000,
          500,
        );
        expect(Date.now() - cutAt).toBeGreaterThan(STALE_AFTER_MS - 2 * SYNC_INTERVAL_MS);
        expect(stale.stderr).toContain('domainctl: stale: site-b');
        expect(stale.stdout).toMatch(/STALE site-b: last contact with the MDC \d+s ago \(stale after 7s\)/);
        expect(statusRow(stale, 'site-b')).toMatch(/\bUNREACHABLE\s+STALE$/);
        expect(statusRow(stale, 'site-a')).toMatch(/\bno$/);

        const machine = json(await expectExit(1, domainctl('master', '--json', 'status')));
        expect(machine.staleAfterMs).toBe(STALE_AFTER_MS);
        expect(machine.sites.map((s: any) => [s.site, s.stale])).toEqual([
          ['master', false],
          ['site-a', false],
          ['site-b', true],
        ]);
        expect(machine.sites[2].syncStatus).toMatchObject({ site: 'site-b', mdcReachable: false });
      } finally {
        cluster.restore('site-b');
      }
      await expectExit(0, domainctl('site-b', 'sync', 'run'));
      const back = await expectExit(0, domainctl('master', 'status'));
      expect(statusRow(back, 'site-b')).toMatch(/\breachable\s+no$/);
    }, 40_000);

    it('points at the MDC when --site is a work site (exit 2)', async () => {
      const run = await expectExit(2, domainctl('site-a', 'status'));
      expect(run.stderr).toContain('only the MDC serves');
    });
  });

  describe('domains', () => {
    it('creates, lists, reads and deletes domains, as tables and as JSON', async () => {
      const created = await expectExit(0, domainctl('site-a', 'domains', 'create', 'acme'));
      expect(created.stdout).toMatch(/^name\s+acme$/m);
      await expectExit(
        0,
        domainctl(
          'site-a',
          'domains',
          'create',
          'eu.acme',
          '--parent',
          'acme',
          '--settings',
          '{"tier":"gold"}',
        ),
      );

      const listed = await expectExit(0, domainctl('site-a', 'domains', 'ls', '--parent', 'acme'));
      expect(listed.stdout.split('\n')[0]).toMatch(/^NAME\s+PARENT\s+SERVED BY$/);
      expect(listed.stdout).toMatch(/^eu\.acme\s+acme\s+site-a$/m);
      const all = json(await expectExit(0, domainctl('site-a', '--json', 'domains', 'ls')));
      expect(all.items.map((d: any) => d.name)).toEqual(
        expect.arrayContaining(['acme', 'eu.acme', 'master']),
      );
      expect(all.next).toBeNull();

      const got = json(await expectExit(0, domainctl('site-a', '--json', 'domains', 'get', 'eu.acme')));
      expect(got).toMatchObject({
        name: 'eu.acme',
        parent: 'acme',
        settings: { tier: 'gold' },
      });

      const removed = await expectExit(0, domainctl('site-a', 'domains', 'rm', 'eu.acme'));
      expect(removed.stdout).toBe('deleted domain eu.acme\n');
      const gone = await expectExit(1, domainctl('site-a', 'domains', 'get', 'eu.acme'));
      expect(gone.stderr).toMatch(/^domainctl: domain_not_found \(404\)/);
    });

    it("prints the API's code and exits 1 on a refused op", async () => {
      const run = await expectExit(1, domainctl('site-a', 'domains', 'create', 'acme'));
      expect(run.stderr).toMatch(/^domainctl: already_exists \(409\): /);
      expect(run.stdout).toBe('');
    });

    it('exits 2 on a usage error or a site that cannot be reached', async () => {
      await expectExit(2, domainctl('site-a', 'domains', 'create', 'x', '--settings', '[1]'));
      await expectExit(2, domainctl('site-a', 'domains', 'frobnicate'));
      const closed = `http://127.0.0.1:${await freePort()}`;
      const run = await expectExit(2, domainctl('site-a', '--site', closed, 'domains', 'ls'));
      expect(run.stderr).toContain(`cannot reach ${closed}: ECONNREFUSED`);
    });
  });

  describe('entities', () => {
    it('sets (creates, then patches), lists, reads and deletes an entity', async () => {
      const created = json(
        await expectExit(
          0,
          domainctl(
            'site-a',
            '--json',
            'entities',
            'set',
            'acme',
            'user',
            'ann smith',
            '--attributes',
            '{"tier":"gold"}',
          ),
        ),
      );
      expect(created).toMatchObject({
        domain: 'acme',
        kind: 'user',
        name: 'ann smith',
        attributes: { tier: 'gold' },
      });
      const patched = await expectExit(
        0,
        domainctl('site-a', 'entities', 'set', 'acme', 'user', 'ann smith', '--attributes', '{"seats":3}'),
      );
      expect(patched.stdout).toMatch(/^attributes\s+\{"tier":"gold","seats":3\}$/m);

      const listed = await expectExit(0, domainctl('site-a', 'entities', 'ls', 'acme', '--kind', 'user'));
      expect(listed.stdout).toMatch(/^user\s+ann smith\s+\S+\s+\{"tier":"gold","seats":3\}$/m);
      const got = json(
        await expectExit(0, domainctl('site-a', '--json', 'entities', 'get', 'acme', 'user', 'ann smith')),
      );
      expect(got).toMatchObject({ id: created.id, attributes: { tier: 'gold', seats: 3 } });

      await expectExit(
        1,
        domainctl('site-a', 'entities', 'set', 'acme', 'user', 'ann smith', '--if-match', '1'),
      );
      await expectExit(0, domainctl('site-a', 'entities', 'rm', 'acme', 'user', 'ann smith'));
      const gone = await expectExit(1, domainctl('site-a', 'entities', 'get', 'acme', 'user', 'ann smith'));
      expect(gone.stderr).toMatch(/^domainctl: entity_not_found \(404\)/);
    });
  });

  describe('import and export', () => {
    const users = Array.from({ length: 300 }, (_, i) => `u${String(i).padStart(3, '0')}`);
    const entityLine = (name: string) =>
      JSON.stringify({ type: 'entity', domain: 'globex', kind: 'user', name, attributes: { n: name } });
    const valid = [
      JSON.stringify({ type: 'domain', name: 'globex', parent: null, settings: { plan: 'pro' } }),
      ...users.map(entityLine),
    ];

    async function exportGlobex(site: string): Promise<string[]> {
      const file = join(dir, `export-${site}-${Date.now()}.ndjson`);
      const run = await expectExit(0, domainctl(site, 'export', 'globex', '-o', file));
      expect(run.stderr).toBe(`exported ${valid.length} lines to ${file}\n`);
      return readFileSync(file, 'utf8').trimEnd().split('\n');
    }

    it('imports an NDJSON file through POST /batch, lists the refused lines and exits 1', async () => {
      const lines = [
        valid[0],
        ...valid.slice(1, 101),
        '{not json',
        JSON.stringify({ type: 'entity', domain: 'globex', kind: 'Bad Kind', name: 'x', attributes: {} }),
        ...valid.slice(101),
        JSON.stringify({ type: 'entity', domain: 'globex', kind: 'user', name: 'u000', attributes: {} }),
      ];
      const file = join(dir, 'import.ndjson');
      writeFileSync(file, `${lines.join('\n')}\n`);
      const run = await expectExit(1, domainctl('site-a', 'import', file));
      expect(run.stdout.split('\n')).toEqual([
        `imported ${valid.length} of ${lines.length} lines; 3 refused`,
        '  line 102: invalid_line: not JSON',
        expect.stringMatching(/^ {2}line 103: validation_failed \(400\): /),
        expect.stringMatching(new RegExp(`^  line ${lines.length}: already_exists \\(409\\): `)),
        '',
      ]);
      // site-a is a work site: 0 refused there is not the MDC's verdict
      expect(run.stderr).toMatch(/run `domainctl sync run`, then `domainctl rejections`/);
      expect(run.stderr).toMatch(new RegExp(`domainctl: 3 of ${lines.length} lines refused\n$`));
    });

    it('exports what was imported, paged, in the format import reads; the same at the other serving site', async () => {
      expect(await exportGlobex('site-a')).toEqual(valid);
      const page = await expectExit(0, domainctl('site-a', 'entities', 'ls', 'globex', '--limit', '100'));
      expect(page.stdout.trimEnd().split('\n')).toHaveLength(101);
      expect(page.stderr).toMatch(/^more: --after \S+ \(or --all\)$/m);
      const all = json(
        await expectExit(
          0,
          domainctl('site-a', '--json', 'entities', 'ls', 'globex', '--limit', '100', '--all'),
        ),
      );
      expect(all.items.map((e: any) => e.name)).toEqual(users);
      await expectExit(0, domainctl('site-a', 'sync', 'run'));
      await expectExit(0, domainctl('site-b', 'sync', 'run'));
      expect(await exportGlobex('site-b')).toEqual(valid);
    });

    it('round-trips: the export imported again recreates the same domain', async () => {
      const file = join(dir, 'round-trip.ndjson');
      await expectExit(0, domainctl('site-a', 'export', 'globex', '-o', file));
      await expectExit(0, domainctl('site-a', 'domains', 'rm', 'globex', '--recursive'));
      // SPEC §8: the delete made here never flickers away at this site, while it is queued nor once
      // the MDC has it — site-b, which serves globex too, may not have pulled it yet
      const seen: number[] = [];
      for (const start = Date.now(); Date.now() - start < 400;) {
        seen.push((await cluster.admin('site-a').get('/domains/globex')).status);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      expect(new Set(seen)).toEqual(new Set([404]));
      await expectExit(1, domainctl('site-a', 'domains', 'get', 'globex'));
      const run = await expectExit(0, domainctl('site-a', '--json', 'import', file));
      expect(json(run)).toEqual({ lines: valid.length, applied: valid.length, refused: [] });
      expect(await exportGlobex('site-a')).toEqual(valid);
    });

    it('imports a shuffled file of 3 domain levels in several batches; export --recursive gives it back, parents first', async () => {
      // lab.acme (under acme, created above) > 4 × d<i> > 5 × x<j>: 25 domains, and 2475 entities,
      // 1100 of them in one domain so its export pages
      const d2 = [0, 1, 2, 3].map((i) => `d${i}.lab.acme`);
      const d3 = d2.flatMap((p) => [0, 1, 2, 3, 4].map((j) => `x${j}.${p}`));
      const domainOf = (name: string, parent: string) =>
        JSON.stringify({ type: 'domain', name, parent, settings: { level: name.split('.').length - 1 } });
      const domains = [
        domainOf('lab.acme', 'acme'),
        ...d2.map((n) => domainOf(n, 'lab.acme')),
        ...d3.map((n) => domainOf(n, n.slice(n.indexOf('.') + 1))),
      ];
      const all = ['lab.acme', ...d2, ...d3];
      const entities = Array.from({ length: 2475 }, (_, k) =>
        JSON.stringify({
          type: 'entity',
          domain: k < 1100 ? d3[0] : all[k % all.length],
          kind: 'user',
          name: `e${String(k).padStart(4, '0')}`,
          attributes: { k },
        }),
      );
      // a seeded shuffle, the top domain last: every child line precedes its parent's
      const lines = [...domains.slice(1), ...entities];
      let seed = 7;
      for (let i = lines.length - 1; i > 0; i--) {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        const j = seed % (i + 1);
        [lines[i], lines[j]] = [lines[j], lines[i]];
      }
      lines.push(domains[0]);
      const file = join(dir, 'lab.ndjson');
      writeFileSync(file, `${lines.join('\n')}\n`);

      const run = await expectExit(0, domainctl('site-a', 'import', file));
      expect(run.stdout).toBe(`imported 2500 of 2500 lines; 0 refused\n`);

      const out = join(dir, 'lab-export.ndjson');
      await expectExit(0, domainctl('site-a', 'export', 'lab.acme', '--recursive', '-o', out));
      const exported = readFileSync(out, 'utf8').trimEnd().split('\n');
      expect([...exported].sort()).toEqual([...lines].sort());
      const parsed = exported.map((l) => JSON.parse(l));
      const at = new Map(parsed.flatMap((o, i) => (o.type === 'domain' ? [[o.name, i] as const] : [])));
      parsed.forEach((o, i) => {
        const first = o.type === 'domain' ? o.parent : o.domain;
        if (first !== 'acme') expect(at.get(first)).toBeLessThan(i);
      });
    }, 60_000);

    it('exits 2 naming an output file it cannot write, before asking the site', async () => {
      const run = await expectExit(
        2,
        domainctl('site-a', 'export', 'globex', '-o', join(dir, 'no', 'such.ndjson')),
      );
      expect(run.stderr).toMatch(/^domainctl: cannot write .*such\.ndjson: ENOENT/);
    });
  });

  describe('rejections, audit, sync run', () => {
    it('lists a change the MDC refused, once a cycle has pushed it', async () => {
      // the same name created at the MDC while the site's create waits in its queue: the site's
      // reaches the MDC second and loses (SPEC §7)
      cluster.cut('site-a');
      try {
        await expectExit(0, domainctl('site-a', 'entities', 'set', 'acme', 'number', '+15550100'));
        await expectExit(0, domainctl('master', 'entities', 'set', 'acme', 'number', '+15550100'));
      } finally {
        cluster.restore('site-a');
      }
      const cycle = await expectExit(0, domainctl('site-a', 'sync', 'run'));
      expect(cycle.stdout).toMatch(/^ok\s+true$/m);

      const table = await expectExit(0, domainctl('site-a', 'rejections'));
      expect(table.stdout.split('\n')[0]).toMatch(/^SEQ\s+AT\s+OP\s+TARGET\s+REASON$/);
      expect(table.stdout).toMatch(/entity\.create\s+acme\/number\/\+15550100\s+already_exists$/m);
      const machine = json(await expectExit(0, domainctl('site-a', '--json', 'rejections', '--limit', '1')));
      expect(machine.items).toEqual([expect.objectContaining({ reason: 'already_exists' })]);
    });

    it("shows the MDC's audit of a domain, newest first", async () => {
      const table = await expectExit(0, domainctl('master', 'audit', '--domain', 'acme', '--limit', '5'));
      expect(table.stdout.split('\n')[0]).toMatch(/^VERSION\s+AT\s+SITE\s+ACTOR\s+OP\s+DOMAIN$/);
      expect(table.stdout).toMatch(/\bentity\.create\s+acme$/m);
      const machine = json(await expectExit(0, domainctl('master', '--json', 'audit', '--domain', 'acme')));
      expect(machine.items.length).toBeGreaterThan(0);
      expect(machine.items.every((i: any) => i.domain === 'acme')).toBe(true);
    });

    it('runs a cycle at a site and prints its report', async () => {
      const machine = json(await expectExit(0, domainctl('site-b', '--json', 'sync', 'run')));
      expect(machine.lastCycle).toMatchObject({ ok: true });
    });
  });
});
