import { Injectable } from '@nestjs/common';
import { Change, isValidDomainName, Verdict } from '@dd/directory';
import { ApiError, Caller, ChangeDirectory, DomainView, EntityView, Written } from '@dd/admin-api';
import { SiteCore } from '../site/site-core';
import { QueueFullError } from './local-writes';
import type { QueueEntry } from '../cache/site-cache.store';
import type { Rejection } from '../sync/sync-cycle';

/** How long `X-Wait-For: mdc` waits for the MDC's verdict before answering 202 pending (SPEC §5). */
const WAIT_FOR_MDC_MS = 5000;
const RETRY_AFTER_S = '5';

/**
 * SPEC §5 at a work site, for the domains it serves (the site router sends the rest away):
 * reads from the cache, writes applied locally and queued (`X-Sync-State: pending`).
 */
@Injectable()
export class SdcDirectoryService extends ChangeDirectory {
  constructor(private readonly core: SiteCore) {
    super(() => core.config.current);
  }

  private get store() {
    return this.core.store;
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
    let result;
    try {
      result = await this.core.writes.submit(change, caller.admin.name, ifMatch);
    } catch (err) {
      if (err instanceof QueueFullError) {
        throw new ApiError(
          'queue_full',
          err.message,
          { capacity: err.capacity },
          { 'retry-after': RETRY_AFTER_S },
        );
      }
      throw err;
    }
    refuseUnless(result.verdict);
    const entry = result.entry!;
    if (!caller.waitForMdc) {
      this.core.scheduler.soon();
      return { body: await read?.(), syncState: 'pending' };
    }
    const verdict = await this.waitForMdc(entry);
    if (verdict === 'pending') return { body: await read?.(), syncState: 'pending', accepted: true };
    if (verdict !== 'applied') {
      throw new ApiError(verdict.reason, verdict.message, verdict.winner ? { winner: verdict.winner } : {});
    }
    return { body: await read?.(), syncState: 'synced' };
  }

  private async waitForMdc(entry: QueueEntry): Promise<'applied' | 'pending' | Rejection> {
    try {
      await this.core.scheduler.runNow(WAIT_FOR_MDC_MS);
    } catch {
      return 'pending';
    }
    const queued = await this.store.queueHead(1);
    if (queued.length > 0 && queued[0].seq <= entry.seq) return 'pending';
    const rejections = (await this.store.rejections(100)) as Rejection[];
    return rejections.find((r) => r.seq === entry.seq && r.change.id === entry.change.id) ?? 'applied';
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

function refuseUnless(verdict: Verdict): void {
  if (!verdict.ok) {
    throw new ApiError(verdict.code, verdict.message, verdict.winner ? { winner: verdict.winner } : {});
  }
}
