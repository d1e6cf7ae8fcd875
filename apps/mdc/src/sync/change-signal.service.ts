import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { Client } from 'pg';
import { messageOf, SITE_ENV, SiteEnv } from '@dd/admin-api';
import { SiteFeedService } from './site-feed.service';

export interface ChangeNotice {
  version: string;
  /** the domains the change touched; null: too many to list, treat as "anything" */
  domains: string[] | null;
  /** a domain was created or deleted: every site's tree moved */
  tree: boolean;
  /** DomainDB is back after an outage: every site runs a whole cycle, whatever its cursor (SPEC §11) */
  resync?: true;
}

type Listener = (notice: ChangeNotice) => void;

const RECONNECT_MS = 500;
/**
 * The LISTEN connection is asked `SELECT 1` this often, and taken for lost when it does not answer
 * within HEARTBEAT_TIMEOUT_MS: a primary whose host died (the usual failover) closes nothing, and a
 * half-open connection would never hear the new primary's notices (nor tell the sites to resync).
 */
const HEARTBEAT_MS = 5000;
const HEARTBEAT_TIMEOUT_MS = 3000;

/**
 * SPEC §8 change signal, the MDC's side. Every replica LISTENs on DomainDB, so a change applied by
 * any replica reaches the sites connected to every replica (SPEC §11: nothing in one process's memory).
 * A LISTEN connection that DomainDB drops (a restart, a failover) is made again every RECONNECT_MS
 * until it is back; then every connected site is told to resync, since a change applied while no
 * LISTEN was open was never signalled — told to run a whole cycle, not one a site may skip as pulled
 * through: after a failover the head may be behind the site's cursor, the range it lost to push again.
 */
@Injectable()
export class ChangeSignalService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('ChangeSignal');
  private readonly listeners = new Set<Listener>();
  private readonly streams = new Set<() => void>();
  private client: Client | undefined;
  /** a LISTEN connection was open before: the next one that opens is a return */
  private listened = false;
  private stopped = false;
  private retry: NodeJS.Timeout | undefined;

  constructor(
    @Inject(SITE_ENV) private readonly env: SiteEnv,
    private readonly feed: SiteFeedService,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.connect();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    // A site's signal stream never ends by itself: the HTTP server's close would wait for it forever.
    for (const end of this.streams) end();
    this.streams.clear();
    await this.client?.end().catch(() => undefined);
  }

  /** `end`: closes the subscriber's stream when this process shuts down (the site reconnects elsewhere). */
  subscribe(listener: Listener, end?: () => void): () => void {
    this.listeners.add(listener);
    if (end) this.streams.add(end);
    return () => {
      this.listeners.delete(listener);
      if (end) this.streams.delete(end);
    };
  }

  get subscribers(): number {
    return this.listeners.size;
  }

  private async connect(): Promise<void> {
    const client = new Client({
      connectionString: this.env.databaseUrl,
      keepAlive: true,
      connectionTimeoutMillis: HEARTBEAT_TIMEOUT_MS,
      query_timeout: HEARTBEAT_TIMEOUT_MS,
    });
    let lost = false;
    let heartbeat: NodeJS.Timeout | undefined = undefined;
    // A connection is lost once, whichever of its events says so first ('error', then 'end').
    const lose = (why: string) => {
      clearInterval(heartbeat);
      if (lost || this.stopped) return;
      lost = true;
      this.logger.warn(why);
      if (this.client === client) this.client = undefined;
      void client.end().catch(() => undefined);
      this.scheduleReconnect();
    };
    client.on('notification', (msg) => {
      if (msg.payload) this.deliver(JSON.parse(msg.payload) as ChangeNotice);
    });
    client.on('error', (err) => lose(`LISTEN connection lost: ${err.message}`));
    client.on('end', () => lose('LISTEN connection ended'));
    try {
      await client.connect();
      await client.query('LISTEN dd_change');
    } catch (err) {
      lose(`cannot LISTEN yet: ${messageOf(err)}`);
      return;
    }
    if (lost) return;
    this.client = client;
    heartbeat = setInterval(() => {
      client
        .query('SELECT 1')
        .catch((err: unknown) => lose(`LISTEN connection not answering: ${messageOf(err)}`));
    }, HEARTBEAT_MS);
    heartbeat.unref();
    if (this.listened) await this.tellEveryoneToResync();
    this.listened = true;
  }

  /** Back after an outage: a notice relevant to every site (`tree`), at the log's head. */
  private async tellEveryoneToResync(): Promise<void> {
    this.logger.log('LISTEN connection back: every connected site resyncs');
    let version = '0';
    try {
      version = await this.feed.head();
    } catch (err) {
      // a site runs a whole cycle on `resync` whatever the version: tell them anyway
      this.logger.warn(`cannot read the log's head to tell the sites: ${messageOf(err)}`);
    }
    this.deliver({ version, domains: null, tree: true, resync: true });
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.connect();
    }, RECONNECT_MS);
  }

  private deliver(notice: ChangeNotice): void {
    for (const listener of this.listeners) listener(notice);
  }
}
