import { FSWatcher, statSync, watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import { ClusterConfig, ConfigError } from './cluster-config.model';
import { parseClusterConfig, readClusterConfigText } from './cluster-config.parser';

export interface ConfigLogger {
  log(msg: string): void;
  error(msg: string): void;
}

export interface ClusterConfigSourceOptions {
  logger?: ConfigLogger;
  /** how often the file's stat is compared, as a fallback for missed file events */
  pollIntervalMs?: number;
  handleSighup?: boolean;
}

export type ClusterConfigListener = (next: ClusterConfig, previous: ClusterConfig) => void;

/** After a file event, wait this long for more, so a write still in progress is not read half-done. */
const SETTLE_MS = 40;

const consoleLogger: ConfigLogger = {
  log: (msg) => console.log(msg),
  error: (msg) => console.error(msg),
};

/** The result, or the ConfigError that a bad file gives; anything else is a bug and is thrown. */
function attempt<T>(run: () => T): T | ConfigError {
  try {
    return run();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
}

/** What the poll compares; a rename-replace changes the inode even when size and mtime match. */
function statSignature(file: string): string {
  const stat = statSync(file, { throwIfNoEntry: false });
  return stat === undefined ? 'missing' : `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
}

/**
 * SPEC §4: the config in force, "reloaded on SIGHUP and when the file changes — also when it is
 * replaced by a rename […] — taking effect within 1 s (a bad new file is refused and logged, the old
 * one stays in force)". The directory is watched, not the file, because a rename-replace gives the
 * name a new inode that a watch on the old one never reports; a stat poll backs up file systems
 * whose events are unreliable.
 */
export class ClusterConfigSource {
  private config: ClusterConfig;
  private readonly listeners = new Set<ClusterConfigListener>();
  private readonly logger: ConfigLogger;
  private readonly pollIntervalMs: number;
  private readonly handleSighup: boolean;
  /** the text last read, good or bad (null: unreadable), so many events for one write act once */
  private lastText: string | null;
  private lastStat: string;
  private watcher: FSWatcher | undefined;
  private poller: NodeJS.Timeout | undefined;
  private settle: NodeJS.Timeout | undefined;
  private started = false;

  private readonly onSighup = (): void => {
    this.logger.log(`cluster config ${this.file}: SIGHUP, reloading`);
    this.reload();
  };

  /** Loads the file now; a bad file throws ConfigError, because a site must not start on it. */
  constructor(
    readonly file: string,
    options: ClusterConfigSourceOptions = {},
  ) {
    this.logger = options.logger ?? consoleLogger;
    this.pollIntervalMs = options.pollIntervalMs ?? 250;
    this.handleSighup = options.handleSighup ?? true;
    this.lastStat = statSignature(file);
    this.lastText = readClusterConfigText(file);
    this.config = parseClusterConfig(this.lastText, file);
  }

  get current(): ClusterConfig {
    return this.config;
  }

  /** Called after a new config takes effect; returns the unsubscribe function. */
  onChange(listener: ClusterConfigListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Re-reads the file now; true when a new, valid config took effect. */
  reload(): boolean {
    return this.takeFile(true);
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    const name = basename(this.file);
    try {
      this.watcher = watch(dirname(this.file), { persistent: false }, (_event, changed) => {
        if (changed === null || changed === name) this.scheduleCheck();
      });
      this.watcher.on('error', (e) => {
        this.logger.error(`cluster config ${this.file}: file watch failed (${e.message}); polling only`);
        this.closeWatcher();
      });
    } catch (e) {
      this.logger.error(`cluster config ${this.file}: cannot watch (${String(e)}); polling only`);
    }
    this.poller = setInterval(() => {
      if (statSignature(this.file) !== this.lastStat) this.scheduleCheck();
    }, this.pollIntervalMs);
    this.poller.unref();
    if (this.handleSighup) process.on('SIGHUP', this.onSighup);
  }

  stop(): void {
    if (!this.started) return;
    this.started = false;
    this.closeWatcher();
    clearInterval(this.poller);
    clearTimeout(this.settle);
    this.poller = undefined;
    this.settle = undefined;
    if (this.handleSighup) process.off('SIGHUP', this.onSighup);
  }

  private closeWatcher(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }

  private scheduleCheck(): void {
    clearTimeout(this.settle);
    this.settle = setTimeout(() => {
      this.settle = undefined;
      this.takeFile(false);
    }, SETTLE_MS);
    this.settle.unref();
  }

  /** Reads the file and puts it in force if it is valid and says something new. */
  private takeFile(force: boolean): boolean {
    // Stat before reading: a write landing in between changes the stat again and is seen by the poll.
    this.lastStat = statSignature(this.file);
    const read = attempt(() => readClusterConfigText(this.file));
    const text = typeof read === 'string' ? read : null;
    if (!force && text === this.lastText) return false;
    this.lastText = text;

    const next = typeof read === 'string' ? attempt(() => parseClusterConfig(read, this.file)) : read;
    if (next instanceof ConfigError) {
      this.logger.error(`${next.message} — refused, the previous config stays in force`);
      return false;
    }

    // Config objects are built in a fixed key order, so equal configs serialize alike.
    if (JSON.stringify(next) === JSON.stringify(this.config)) return false;
    const previous = this.config;
    this.config = next;
    this.logger.log(`cluster config ${this.file}: reloaded`);
    for (const listener of [...this.listeners]) {
      try {
        listener(next, previous);
      } catch (e) {
        this.logger.error(`cluster config ${this.file}: a change listener failed: ${String(e)}`);
      }
    }
    return true;
  }
}
