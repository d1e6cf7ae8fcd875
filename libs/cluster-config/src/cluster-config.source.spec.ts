import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterConfig, ConfigError } from './cluster-config.model';
import { ClusterConfigSource } from './cluster-config.source';
import { configYaml } from './testing';
import { servingSites } from './zone-resolution';

/** SPEC §4: a change takes effect within 1 s. */
const WITHIN_MS = 1000;

function nextChange(source: ClusterConfigSource, withinMs = WITHIN_MS): Promise<ClusterConfig> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`no config change within ${withinMs} ms`));
    }, withinMs);
    const unsubscribe = source.onChange((next) => {
      clearTimeout(timer);
      unsubscribe();
      resolve(next);
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const zoneAt = (site: string) => configYaml({ zones: [{ domain: 'acme', sites: [site] }] });

describe('ClusterConfigSource (SPEC §4)', () => {
  let dir: string;
  let file: string;
  let logger: { log: jest.Mock; error: jest.Mock };
  const sources: ClusterConfigSource[] = [];

  function startSource(): ClusterConfigSource {
    const source = new ClusterConfigSource(file, { logger });
    sources.push(source);
    source.start();
    return source;
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cluster-config-'));
    file = join(dir, 'cluster.yml');
    writeFileSync(file, zoneAt('site-a'));
    logger = { log: jest.fn(), error: jest.fn() };
  });

  afterEach(() => {
    sources.splice(0).forEach((source) => source.stop());
    rmSync(dir, { recursive: true, force: true });
  });

  it('loads the file when constructed', () => {
    const source = new ClusterConfigSource(file, { logger });
    expect(servingSites(source.current, 'acme')).toEqual(['site-a']);
  });

  it('refuses to start on a bad file', () => {
    writeFileSync(file, 'sites: []\n');
    expect(() => new ClusterConfigSource(file, { logger })).toThrow(ConfigError);
  });

  it('picks up a file written in place within 1 s', async () => {
    const source = startSource();
    const changed = nextChange(source);
    writeFileSync(file, zoneAt('site-b'));

    const next = await changed;
    expect(servingSites(next, 'acme')).toEqual(['site-b']);
    expect(source.current).toBe(next);
  });

  it('picks up a file replaced by a rename within 1 s', async () => {
    const source = startSource();
    const changed = nextChange(source);
    const temporary = join(dir, '.cluster.yml.tmp');
    writeFileSync(temporary, zoneAt('site-b'));
    renameSync(temporary, file);

    expect(servingSites(await changed, 'acme')).toEqual(['site-b']);
  });

  it('picks up a second rename-replace, after the first gave the name a new inode', async () => {
    const source = startSource();
    for (const site of ['site-b', 'site-a']) {
      const changed = nextChange(source);
      writeFileSync(join(dir, 'next.yml'), zoneAt(site));
      renameSync(join(dir, 'next.yml'), file);
      expect(servingSites(await changed, 'acme')).toEqual([site]);
    }
  });

  it('refuses a bad new file, logs it, keeps the old config, and still takes a later good one', async () => {
    const source = startSource();
    const before = source.current;
    const listener = jest.fn();
    source.onChange(listener);

    writeFileSync(file, configYaml({ zones: [{ domain: 'acme', sites: ['site-z'] }] }));
    await sleep(WITHIN_MS);
    expect(logger.error).toHaveBeenCalledTimes(1);
    expect(logger.error.mock.calls[0][0]).toContain(
      `cluster config ${file}: zones[0].sites[0]: unknown site`,
    );
    expect(source.current).toBe(before);
    expect(listener).not.toHaveBeenCalled();

    const changed = nextChange(source);
    writeFileSync(file, zoneAt('site-b'));
    expect(servingSites(await changed, 'acme')).toEqual(['site-b']);
  });

  it('does not fire listeners when the content is unchanged or only its comments changed', async () => {
    const source = startSource();
    const listener = jest.fn();
    source.onChange(listener);
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text);
    await sleep(500);
    writeFileSync(file, `# edited by ops\n${text}`);
    await sleep(500);

    expect(listener).not.toHaveBeenCalled();
    expect(logger.error).not.toHaveBeenCalled();
  });

  it('reloads on SIGHUP', () => {
    const source = startSource();
    writeFileSync(file, zoneAt('site-b'));
    // Synchronously after the write, so no file event has had a turn: only the signal can do it.
    process.emit('SIGHUP', 'SIGHUP');
    expect(servingSites(source.current, 'acme')).toEqual(['site-b']);
  });

  it('reports from reload() whether a new config took effect', () => {
    const source = new ClusterConfigSource(file, { logger });
    expect(source.reload()).toBe(false);
    writeFileSync(file, 'not: [valid');
    expect(source.reload()).toBe(false);
    expect(logger.error).toHaveBeenCalledWith(
      expect.stringContaining(`cluster config ${file}: (yaml): line`),
    );
    writeFileSync(file, zoneAt('site-b'));
    expect(source.reload()).toBe(true);
  });

  it('stops calling a listener once unsubscribed, and survives a listener that throws', () => {
    const source = new ClusterConfigSource(file, { logger });
    const unsubscribed = jest.fn();
    source.onChange(() => {
      throw new Error('boom');
    });
    const stillSubscribed = jest.fn();
    source.onChange(unsubscribed)();
    source.onChange(stillSubscribed);

    writeFileSync(file, zoneAt('site-b'));
    expect(source.reload()).toBe(true);
    expect(unsubscribed).not.toHaveBeenCalled();
    expect(stillSubscribed).toHaveBeenCalledWith(source.current, expect.anything());
    expect(logger.error).toHaveBeenCalledWith(expect.stringContaining('boom'));
  });

  it('watches nothing after stop()', async () => {
    const sighupListeners = process.listenerCount('SIGHUP');
    const source = startSource();
    expect(process.listenerCount('SIGHUP')).toBe(sighupListeners + 1);
    source.stop();
    expect(process.listenerCount('SIGHUP')).toBe(sighupListeners);

    const before = source.current;
    writeFileSync(file, zoneAt('site-b'));
    await sleep(600);
    expect(source.current).toBe(before);
  });
});
