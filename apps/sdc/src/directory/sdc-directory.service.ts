import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { servingSites } from '@dd/cluster-config';
import { Change, isValidDomainName, JsonObject, parentOf, Verdict } from '@dd/directory';
import {
  ApiError,
  Caller,
  Conditional,
  DirectoryService,
  DomainSummary,
  DomainView,
  EntityView,
  pageOf,
  Written,
} from '@dd/admin-api';
import { scopeAllows } from '@dd/site-auth';
import { SiteCore } from '../site/site-core';
import { QueueFullError } from './local-writes';
import type { QueueEntry } from '../cache/site-cache.store';
import type { Rejection } from '../sync/sync-cycle';

/** How long `X-Wait-For: mdc` waits for the MDC's verdict before answering 202 pending (SPEC §5). */
const WAIT_FOR_MDC_MS = 5000;
const RETRY_AFTER_S = '5';

/**
 * SPEC §5 at a work site, for the domains it serves (the proxy interceptor sends the rest away):
 * reads from the cache, writes applied locally and queued (`X-Sync-State: pending`).
 */
@Injectable()
export class SdcDirectoryService implements DirectoryService {
  constructor(private readonly core: SiteCore) {}

  private get store() {
    return this.core.store;
  }

  async listDomains(caller: Caller, parent: string | undefined, limit: number, after: string | undefined) {
    const config = this.core.config.current;
    const items: DomainSummary[] = [];
    let cursor = after;
    for (;;) {
      const names = await this.store.domainNames(
        parent === undefined ? undefined : parent,
        cursor,
        limit + 1,
      );
      const records = await this.store.domains(names);
      for (const r of records) {
        if (r && scopeAllows(caller.admin.scope, r.domain.name)) {
          items.push({
            name: r.domain.name,
            parent: r.domain.parent,
            servedBy: servingSites(config, r.domain.name),
          });
        }
      }
      if (items.length > limit || names.length <= limit) break;
      cursor = names[names.length - 1];
    }
    return pageOf(items, limit, (d) => [d.name]);
  }

  async getDomain(_caller: Caller, name: string): Promise<DomainView> {
    return this.domainOrThrow(name);
  }

  async createDomain(caller: Caller, input: { name: string; parent?: string | null; settings: JsonObject }) {
    const derived = isValidDomainName(input.name) ? parentOf(input.name) : null;
    const change: Change = {
      op: 'domain.create',
      id: randomUUID(),
      name: input.name,
      parent: input.parent === undefined ? derived : input.parent,
      settings: input.settings,
    };
    return this.write(caller, change, undefined, () => this.domainOrThrow(input.name));
  }

  async patchDomain(caller: Caller, name: string, settings: JsonObject, cond: Conditional) {
    const current = await this.domainOrThrow(name);
    const change: Change = { op: 'domain.update', id: current.id, name, patch: settings };
    return this.write(caller, change, cond.ifMatch, () => this.domainOrThrow(name));
  }

  async deleteDomain(
    caller: Caller,
    name: string,
    recursive: boolean,
    cond: Conditional,
  ): Promise<Written<never>> {
    const current = await this.domainOrThrow(name);
    return this.write(
      caller,
      { op: 'domain.delete', id: current.id, name, recursive },
      cond.ifMatch,
      undefined,
    );
  }

  async listEntities(
    _caller: Caller,
    domain: string,
    kind: string | undefined,
    limit: number,
    after?: string[],
  ) {
    await this.domainOrThrow(domain);
    const rows = await this.store.listEntities(domain, kind, after, limit + 1);
    const pending = await this.store.pendingIds(rows.map((e) => e.id));
    const views = rows.map((e): EntityView => (pending.has(e.id) ? { ...e, pending: true } : e));
    return pageOf(views, limit, (e) => [e.kind, e.name]);
  }

  async getEntity(_caller: Caller, domain: string, kind: string, name: string): Promise<EntityView> {
    return this.entityOrThrow(domain, kind, name);
  }

  async createEntity(
    caller: Caller,
    domain: string,
    input: { kind: string; name: string; attributes: JsonObject },
  ) {
    await this.domainOrThrow(domain);
    const change: Change = { op: 'entity.create', id: randomUUID(), domain, ...input };
    return this.write(caller, change, undefined, () => this.entityOrThrow(domain, input.kind, input.name));
  }

  async patchEntity(
    caller: Caller,
    domain: string,
    kind: string,
    name: string,
    attributes: JsonObject,
    cond: Conditional,
  ) {
    const current = await this.entityOrThrow(domain, kind, name);
    const change: Change = { op: 'entity.update', id: current.id, domain, kind, name, patch: attributes };
    return this.write(caller, change, cond.ifMatch, () => this.entityOrThrow(domain, kind, name));
  }

  async deleteEntity(caller: Caller, domain: string, kind: string, name: string, cond: Conditional) {
    const current = await this.entityOrThrow(domain, kind, name);
    const change: Change = { op: 'entity.delete', id: current.id, domain, kind, name };
    return this.write<never>(caller, change, cond.ifMatch, undefined);
  }

  /**
   * SPEC §6: apply locally and queue in one step, answer, and push right away. With
   * `X-Wait-For: mdc`, run a cycle now and answer with the MDC's verdict (202 if it cannot be had).
   */
  private async write<T>(
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

  private async domainOrThrow(name: string): Promise<DomainView> {
    const cached = isValidDomainName(name) ? await this.store.domain(name) : undefined;
    if (!cached || !cached.scoped) throw new ApiError('domain_not_found', `no domain ${name}`);
    const pending = await this.store.pendingIds([cached.domain.id]);
    return pending.size > 0 ? { ...cached.domain, pending: true } : cached.domain;
  }

  private async entityOrThrow(domain: string, kind: string, name: string): Promise<EntityView> {
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
