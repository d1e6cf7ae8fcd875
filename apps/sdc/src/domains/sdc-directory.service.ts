import { Inject, Injectable } from '@nestjs/common';
import { Change, isValidDomainName } from '@dd/directory';
import {
  ApiError,
  Caller,
  ChangeDirectory,
  ClusterConfigService,
  DomainView,
  EntityView,
  RefusedError,
  Written,
} from '@dd/admin-api';
import { Rejection, SiteCacheStore } from '../cache/site-cache.store';
import { SyncScheduler } from '../sync/sync.scheduler';
import { LocalWrites } from './local-writes';

/** How long `X-Wait-For: mdc` waits for the MDC's verdict before answering 202 pending (SPEC §5). */
const WAIT_FOR_MDC_MS = 5000;

/**
 * SPEC §5 at a work site, for the domains it serves (the routing sends the rest away): reads from
 * the cache, writes applied locally and queued (`X-Sync-State: pending`).
 */
@Injectable()
export class SdcDirectoryService extends ChangeDirectory {
  constructor(
    private readonly store: SiteCacheStore,
    @Inject(LocalWrites) private readonly writes: LocalWrites,
    private readonly scheduler: SyncScheduler,
    config: ClusterConfigService,
  ) {
    super(() => config.current);
  }

  protected async treePage(parent: string | undefined, after: string | undefined, limit: number) {
    const names = await this.store.domainNames(parent, after, limit);
    const records = await this.store.domains(names);
    return records
      .filter((r) => r !== undefined)
      .map((r) => ({ name: r.domain.name, parent: r.domain.parent }));
  }

  protected async entityPage(
    domain: string,
    kind: string | undefined,
    after: string[] | undefined,
    limit: number,
  ) {
    const rows = await this.store.listEntities(domain, kind, after, limit);
    const pending = await this.store.pendingIds(rows.map((e) => e.id));
    return rows.map((e): EntityView => (pending.has(e.id) ? { ...e, pending: true } : e));
  }

  /**
   * SPEC §6: apply locally and queue in one step, answer, and push right away. With
   * `X-Wait-For: mdc`, run a cycle now and answer with the MDC's verdict (202 if it cannot be had).
   */
  protected async submit<T>(
    caller: Caller,
    change: Change,
    ifMatch: string | undefined,
    read: (() => Promise<T>) | undefined,
  ): Promise<Written<T>> {
    const { verdict, entry } = await this.writes.submit(change, caller.admin.name, ifMatch);
    if (!verdict.ok) throw new RefusedError(verdict);
    if (!entry) throw new Error('an accepted local write left no queue entry');
    if (!caller.waitForMdc) {
      this.scheduler.soon();
      return { body: await read?.(), syncState: 'pending' };
    }
    const decided = await this.waitForMdc(entry.seq, change.id);
    if (decided === 'pending') return { body: await read?.(), syncState: 'pending', accepted: true };
    if (decided !== 'applied') {
      const { reason: code, message, winner } = decided;
      throw new RefusedError({ code, message, winner });
    }
    return { body: await read?.(), syncState: 'synced' };
  }

  private async waitForMdc(seq: number, id: string): Promise<'applied' | 'pending' | Rejection> {
    try {
      if (!(await this.scheduler.runNow(WAIT_FOR_MDC_MS)).finished) return 'pending';
    } catch {
      return 'pending';
    }
    const queued = await this.store.queueHead(1);
    if (queued.length > 0 && queued[0].seq <= seq) return 'pending';
    const rejections = await this.store.rejections(100);
    return rejections.find((r) => r.seq === seq && r.change.id === id) ?? 'applied';
  }

  protected async domainOrThrow(name: string): Promise<DomainView> {
    const cached = isValidDomainName(name) ? await this.store.domain(name) : undefined;
    if (!cached || !cached.scoped) throw new ApiError('domain_not_found', `no domain ${name}`);
    const pending = await this.store.pendingIds([cached.domain.id]);
    return pending.size > 0 ? { ...cached.domain, pending: true } : cached.domain;
  }

  protected async entityOrThrow(domain: string, kind: string, name: string): Promise<EntityView> {
    await this.domainOrThrow(domain);
    const cached = await this.store.entity(domain, kind, name);
    if (!cached) throw new ApiError('entity_not_found', `no ${kind} ${name} in ${domain}`);
    const pending = await this.store.pendingIds([cached.entity.id]);
    return pending.size > 0 ? { ...cached.entity, pending: true } : cached.entity;
  }
}
