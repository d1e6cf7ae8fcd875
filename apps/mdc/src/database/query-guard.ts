import { AsyncLocalStorage } from 'node:async_hooks';
import type { EventEmitter } from 'node:events';
import { Client, ClientConfig } from 'pg';

/** node-postgres's words when `query_timeout` passes. */
const READ_TIMEOUT = 'Query read timeout';

/**
 * SPEC §11: a DomainDB query left unanswered — the primary's host died without a word (no FIN, no
 * reset: a failover whose address is a DNS name, a frozen server) — fails after `ms` and its
 * connection is dropped. node-postgres's own `query_timeout` fails the query but keeps the
 * connection, with the query still in flight on it: the pool would hand it out again and every
 * later query on it would wait behind one that never ends. TCP keep-alive does not help either:
 * data in flight is retried for about 15 minutes, and a host that still ACKs is never found dead.
 *
 * Armed once the MDC has started: its migrations (which may rightly run for minutes on a big
 * DomainDB) are not cut short; the retention's purge runs `patient`.
 */
export class QueryGuard {
  private armed = false;
  /** the pool's connections now */
  private readonly clients = new Set<Guarded>();
  /** those checked out of the pool now (its `acquire` and `release`) */
  private readonly out = new Set<unknown>();
  /** a longer timeout for the work run in `patient` */
  private readonly longer = new AsyncLocalStorage<number>();

  constructor(readonly ms: number) {}

  /** Armed from now on, on this pool (whose `acquire`/`release` say which connections are in use). */
  arm(pool: EventEmitter): void {
    pool.on('acquire', (client: unknown) => this.out.add(client));
    pool.on('release', (_err: unknown, client: unknown) => this.out.delete(client));
    this.armed = true;
  }

  /** the read timeout of a query sent now (0: none) */
  get timeoutMs(): number {
    if (!this.armed || this.ms <= 0) return 0;
    return this.longer.getStore() ?? this.ms;
  }

  /**
   * `work`'s queries get `factor` times the timeout: work known to take long on a big DomainDB (the
   * retention's purge after a long pause), which a dead server still must not hang for ever.
   */
  patient<T>(work: () => Promise<T>, factor = 10): Promise<T> {
    return this.longer.run(this.ms * factor, work);
  }

  /**
   * A query sent at `sentAt` went unanswered: its connection goes, and so does every connection idle
   * in the pool that was made before it was sent — most likely to the same dead server, and each
   * would otherwise cost the next caller a whole timeout of its own. One made since is to whatever
   * the address reaches now; one checked out is left to its own query's timeout (it may be in the
   * middle of a healthy transaction).
   */
  private unanswered(client: Guarded, sentAt: number): void {
    client.drop();
    for (const other of this.clients)
      if (other !== client && other.madeAt < sentAt && !this.out.has(other) && other.idle) other.drop(true);
  }

  /** The pool's Client class (TypeORM passes `extra.Client` on to pg-pool). */
  clientClass(): typeof Client {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the class below is pg's to construct
    const guard = this;
    class GuardedClient extends Client implements Guarded {
      readonly madeAt = Date.now();

      constructor(config?: ClientConfig) {
        super(config);
        this.once('end', () => guard.clients.delete(this));
      }

      /** Counted once connected (pg-pool passes a callback; a failed attempt never is). */
      override connect(...args: unknown[]): never {
        const [callback] = args;
        if (typeof callback === 'function')
          return (Client.prototype.connect as unknown as (cb: (err?: Error) => void) => never).call(
            this,
            (err?: Error) => {
              if (!err) guard.clients.add(this);
              (callback as (err?: Error) => void)(err);
            },
          );
        return (Client.prototype.connect as unknown as () => Promise<void>).call(this).then(() => {
          guard.clients.add(this);
        }) as never;
      }

      // the overloads of Client#query are one function underneath: the arguments pass as they came
      override query(...args: unknown[]): never {
        const ms = guard.timeoutMs;
        const sentAt = Date.now();
        // read by Client#query at this call: `config.query_timeout || connectionParameters.query_timeout`
        (this as unknown as Internals).connectionParameters.query_timeout = ms > 0 ? ms : undefined;
        // dropped before the caller hears of it, so that its release already finds it unqueryable
        const unanswered = (err: unknown) => {
          if (err instanceof Error && err.message === READ_TIMEOUT) guard.unanswered(this, sentAt);
        };
        const last = args[args.length - 1];
        if (ms > 0 && typeof last === 'function')
          args[args.length - 1] = (err: unknown, res: unknown) => {
            unanswered(err);
            (last as (err: unknown, res: unknown) => void)(err, res);
          };
        const result: unknown = (Client.prototype.query as (...a: unknown[]) => unknown).apply(this, args);
        if (ms > 0 && result instanceof Promise) result.catch(unanswered);
        return result as never;
      }

      /** no query running or waiting on it */
      get idle(): boolean {
        const self = this as unknown as Internals;
        return !self._activeQuery && (self._queryQueue?.length ?? 0) === 0;
      }

      /**
       * The connection goes, and the pool takes the client out: not queryable from now on (so a
       * checked-out one's release removes it, rather than hand it to the next caller — the socket
       * closes a tick later); one idle in the pool is taken out of it now, by the 'error' its idle
       * listener removes it on, before any caller can be handed it.
       */
      drop(idle = false): void {
        const self = this as unknown as Internals;
        self._queryable = false;
        if (idle && this.listenerCount('error') > 0)
          this.emit('error', new Error('dropped: a connection as old went unanswered (QueryGuard)'));
        self.connection?.stream?.destroy();
      }
    }
    return GuardedClient;
  }
}

interface Guarded {
  readonly madeAt: number;
  readonly idle: boolean;
  drop(idle?: boolean): void;
}

/** node-postgres's Client fields the guard reads and sets (pg 8). */
interface Internals {
  connectionParameters: { query_timeout?: number };
  connection?: { stream?: { destroy(): void } };
  _activeQuery?: unknown;
  _queryable?: boolean;
  _queryQueue?: unknown[];
}
