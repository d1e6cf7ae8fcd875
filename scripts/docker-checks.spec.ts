import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { checkDocker } from './docker-checks';

const DOCKER = resolve(__dirname, '..', 'docker');

describe('checkDocker (docker/ without an engine)', () => {
  let copy: string;
  beforeEach(() => {
    copy = join(mkdtempSync(join(tmpdir(), 'dd-docker-')), 'docker');
    cpSync(DOCKER, copy, { recursive: true });
  });
  afterEach(() => rmSync(resolve(copy, '..'), { recursive: true, force: true }));

  function edit(file: string, change: (text: string) => string): void {
    const path = join(copy, file);
    const before = readFileSync(path, 'utf8');
    const after = change(before);
    expect(after).not.toBe(before);
    writeFileSync(path, after);
  }

  it('passes the committed docker/ directory', () => {
    const { problems, summary } = checkDocker(DOCKER);
    expect(problems).toEqual([]);
    expect(summary).toMatch(/Compose Specification schema/);
  });

  it('refuses what the Compose Specification does not allow, by its schema', () => {
    edit('docker-compose.yml', (t) => t.replace('    healthcheck:\n', '    helthcheck:\n'));
    edit('docker-compose.yml', (t) => t.replace('restart: unless-stopped', 'restart: [always]'));
    const { problems } = checkDocker(copy, resolve(DOCKER, '..'));
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^compose schema: \/services\/\w+ must NOT have additional properties/),
        expect.stringMatching(/^compose schema: \/services\/\w+\/restart must be string/),
      ]),
    );
  });

  it('refuses a port published on every interface', () => {
    edit('docker-compose.yml', (t) => t.replace('"127.0.0.1:4001:4001"', '"4001:4001"'));
    expect(checkDocker(copy, resolve(DOCKER, '..')).problems).toEqual(
      expect.arrayContaining([
        'sdc-a: port 4001 is not published on 127.0.0.1',
        'sdc-a: publishes 4001:4001 beyond the loopback interface',
      ]),
    );
  });

  it('refuses a liveness probe where readiness is meant', () => {
    edit('docker-compose.yml', (t) => t.replace('127.0.0.1:4002/health/ready', '127.0.0.1:4002/health/live'));
    expect(checkDocker(copy, resolve(DOCKER, '..')).problems).toEqual([
      'sdc-b: the healthcheck does not ask /health/ready on port 4002',
    ]);
  });

  it('refuses the cluster config mounted as a single file', () => {
    edit('docker-compose.yml', (t) =>
      t.replace(
        './config:/etc/domain-directory:ro\n      - ./keys/master.key',
        './config/cluster.yml:/etc/domain-directory/cluster.yml:ro\n      - ./keys/master.key',
      ),
    );
    expect(checkDocker(copy, resolve(DOCKER, '..')).problems).toEqual([
      expect.stringMatching(/^mdc: docker\/config\/ is not mounted as the directory/),
    ]);
  });

  it('refuses an image on another Node than 24 LTS', () => {
    edit('Dockerfile', (t) => t.replace(/node:24-bookworm-slim/g, 'node:20-bookworm-slim'));
    expect(checkDocker(copy, resolve(DOCKER, '..')).problems).toEqual([
      'Dockerfile: expected a multi-stage build on node:24-bookworm-slim',
    ]);
  });
});
