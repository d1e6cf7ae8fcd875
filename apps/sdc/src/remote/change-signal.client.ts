import type { IncomingMessage } from 'node:http';
import { SignalEvent, SYNC_PATHS } from '@dd/sync-protocol';
import { SiteHttp, SiteTarget } from './site-http';

const FIRST_BACKOFF_MS = 50;
// SPEC §8: after an outage the stream reconnects within 1 s of the MDC being reachable again.
const DEFAULT_MAX_BACKOFF_MS = 500;
// The MDC writes a keepalive comment every 15 s; a stream silent for three of them is dead
// (the MDC vanished without closing the connection, e.g. behind a network partition).
const DEFAULT_IDLE_TIMEOUT_MS = 45_000;

export interface ChangeSignalOptions {
  http: SiteHttp;
  /** read at every connect, so a config reload that moves the MDC takes effect (SPEC §4) */
  master: () => SiteTarget;
  /**
   * the change log moved for this site's scope: resync now (SPEC §8); `resync`: a whole cycle,
   * whatever the version (the MDC has its database back, SPEC §11); must not throw
   */
  onChange: (version: string, resync: boolean) => void;
  onConnectedChange?: (connected: boolean) => void;
  maxBackoffMs?: number;
  idleTimeoutMs?: number;
}

/** SPEC §8: listens to the MDC's change signal (SSE) and keeps reconnecting until stopped. */
export class ChangeSignalClient {
  private running?: Promise<void>;
  private stopping = false;
  private stream?: AbortController;
  private wake?: () => void;
  private isConnected = false;

  constructor(private readonly opts: ChangeSignalOptions) {}

  /** true only while a 200 stream from the MDC is open */
  get connected(): boolean {
    return this.isConnected;
  }

  start(): void {
    if (this.running) return;
    this.stopping = false;
    this.running = this.run();
  }

  /** Closes the stream and ends the reconnect loop; nothing is left pending afterwards. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.stream?.abort();
    this.wake?.();
    await this.running;
    this.running = undefined;
  }

  private async run(): Promise<void> {
    let backoff = FIRST_BACKOFF_MS;
    while (!this.stopping) {
      if (await this.listenOnce()) backoff = FIRST_BACKOFF_MS;
      if (this.stopping) return;
      await this.pause(backoff);
      backoff = Math.min(backoff * 2, this.opts.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS);
    }
  }

  /** One connection, read until it ends; true if the MDC opened the stream. */
  private async listenOnce(): Promise<boolean> {
    const stream = new AbortController();
    this.stream = stream;
    let res: IncomingMessage;
    try {
      res = await this.opts.http.openStream(this.opts.master(), SYNC_PATHS.signal, stream.signal);
    } catch {
      return false; // unreachable (or no MDC in the config yet): try again after the backoff
    }
    if (res.statusCode !== 200) {
      res.destroy();
      return false;
    }
    this.setConnected(true);
    const idle = setTimeout(() => stream.abort(), this.opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS);
    try {
      const events = new SseEvents();
      res.setEncoding('utf8');
      for await (const chunk of res) {
        idle.refresh();
        for (const event of events.push(chunk as string)) this.deliver(event);
      }
    } catch {
      // aborted by stop() or the idle timer, or the MDC went away mid-stream: reconnect
    } finally {
      clearTimeout(idle);
      this.setConnected(false);
    }
    return true;
  }

  private deliver(event: { event: string; data: string }): void {
    if (event.event !== 'change') return;
    let parsed: Partial<SignalEvent>;
    try {
      parsed = JSON.parse(event.data) as Partial<SignalEvent>;
    } catch {
      return; // not ours to judge: the periodic cycle still runs
    }
    if (typeof parsed?.version === 'string') this.opts.onChange(parsed.version, parsed.resync === true);
  }

  private setConnected(connected: boolean): void {
    if (this.isConnected === connected) return;
    this.isConnected = connected;
    this.opts.onConnectedChange?.(connected);
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}

/** Splits a text/event-stream into events: blank-line separated blocks, `:` lines are comments. */
class SseEvents {
  private buffer = '';

  push(text: string): Array<{ event: string; data: string }> {
    this.buffer += text.replace(/\r\n?/g, '\n');
    const blocks = this.buffer.split('\n\n');
    this.buffer = blocks.pop() ?? '';
    return blocks.flatMap((block) => {
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      return data.length > 0 ? [{ event, data: data.join('\n') }] : [];
    });
  }
}
