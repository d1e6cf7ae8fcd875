import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { Client } from 'pg';
import { messageOf, SITE_ENV, SiteEnv } from '@dd/admin-api';
import { Inject } from '@nestjs/common';

export interface ChangeNotice {
  version: string;
  /** the domains the change touched; null: too many to list, treat as "anything" */
  domains: string[] | null;
  /** a domain was created or deleted: every site's tree moved */
  tree: boolean;
}

type Listener = (notice: ChangeNotice) => void;

const RECONNECT_MS = 500;

/**
 * SPEC §8 change signal, the MDC's side. Every replica LISTENs on DomainDB, so a change applied by
 * any replica reaches the sites connected to every replica (SPEC §11: nothing in one process's memory).
 */
@Injectable()
export class ChangeSignalService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('ChangeSignal');
  private readonly listeners = new Set<Listener>();
  private client: Client | undefined;
  private stopped = false;
  private retry: NodeJS.Timeout | undefined;

  constructor(@Inject(SITE_ENV) private readonly env: SiteEnv) {}

  async onModuleInit(): Promise<void> {
    await this.connect();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    await this.client?.end().catch(() => undefined);
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get subscribers(): number {
    return this.listeners.size;
  }

  private async connect(): Promise<void> {
    const client = new Client({ connectionString: this.env.databaseUrl });
    client.on('notification', (msg) => this.deliver(msg.payload));
    client.on('error', (err) => {
      this.logger.warn(`LISTEN connection lost: ${err.message}`);
      this.scheduleReconnect();
    });
    try {
      await client.connect();
      await client.query('LISTEN dd_change');
      this.client = client;
    } catch (err) {
      this.logger.warn(`cannot LISTEN yet: ${messageOf(err)}`);
      await client.end().catch(() => undefined);
      this.scheduleReconnect();
    }
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.retry) return;
    this.client = undefined;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.connect();
    }, RECONNECT_MS);
  }

  private deliver(payload: string | undefined): void {
    if (!payload) return;
    const notice = JSON.parse(payload) as ChangeNotice;
    for (const listener of this.listeners) listener(notice);
  }
}
