import { Inject, Injectable } from '@nestjs/common';
import { Change, isDomainChange, isValidDomainName } from '@dd/directory';
import {
  AdminWrite,
  ApiError,
  Caller,
  ChangeDirectory,
  ClusterConfigService,
  DomainView,
  EntityView,
  QueueFullError,
  RefusedError,
  WriteOutcome,
} from '@dd/admin-api';
import { SiteCacheStore } from '../cache/site-cache.store';
import { SyncScheduler } from '../sync/sync.scheduler';
import { LocalWriteResult, LocalWrites, unconfirmedError } from './local-writes';

/** How long `X-Wait-For: mdc` waits for the MDC's verdict before answering 202 pending (SPEC §5). */
const WAIT_FOR_MDC_MS = 5000;
/** How far back `X-Wait-For: mdc` looks for its writes among the rejections (the log keeps its newest). */
const REJECTIONS_READ = 1000;

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
   * SPEC §6: apply locally and queue (in groups: one step for every write that arrived while the
   * last one was in flight), answer, and push right away. With `X-Wait-For: mdc`, run a cycle now
   * and answer with the MDC's verdict (202 if it cannot be had).
   */
  protected async submit(caller: Caller, writes: AdminWrite[]): Promise<WriteOutcome[]> {
    const settled = await this.writes.submitEach(
      writes.map(({ write, ifMatch }) => ({ write, ifMatch, actor: caller.admin.name })),
    );
    const results = settled.map((s) => (s.status === 'fulfilled' ? s.value : undefined));
    if (results.some((r) => r?.entry)) {
      if (caller.waitForMdc) {
        const answered = await this.answerFromMdc(results.filter((r) => r !== undefined));
        return settled.map((s) =>
          s.status === 'fulfilled' ? answered.shift()! : { ok: false, error: s.reason },
        );
      }
      this.scheduler.pushSoon();
    }
    return settled.map((s) =>
      s.status === 'fulfilled' ? this.outcome(s.value, 'pending') : { ok: false, error: s.reason },
    );
  }

  private outcome(r: LocalWriteResult, syncState: 'pending' | 'synced', accepted = false): WriteOutcome {
    if (r.queueFull) return { ok: false, error: new QueueFullError(this.writes.queueCapacity()) };
    if (!r.entry) return { ok: false, error: new RefusedError(r.verdict) };
    // SPEC §11: kept and queued here, but not on the Redis replicas asked for.
    if (r.unconfirmed) return { ok: false, error: unconfirmedError(r.unconfirmed) };
    // The body is the target as this write left it, pending until the MDC has it (SPEC §3).
    const body = r.after && { ...r.after, pending: true };
    return { ok: true, body, syncState, accepted };
  }

  /** SPEC §5 `X-Wait-For: mdc`: one cycle now, then each accepted write's verdict at the MDC. */
  private async answerFromMdc(results: LocalWriteResult[]): Promise<WriteOutcome[]> {
    let finished = false;
    try {
      finished = (await this.scheduler.runNow(WAIT_FOR_MDC_MS)).finished;
    } catch {
      finished = false;
    }
    const queued = finished ? await this.store.queueHead(1) : [];
    const rejections = finished ? await this.store.rejections(REJECTIONS_READ) : [];
    return Promise.all(
      results.map(async (r) => {
        if (!r.entry || r.unconfirmed) return this.outcome(r, 'pending');
        const { seq, change } = r.entry;
        if (!finished || (queued.length > 0 && queued[0].seq <= seq)) return this.outcome(r, 'pending', true);
        const refused = rejections.find((x) => x.seq === seq && x.change.id === change.id);
        if (refused) {
          const { reason: code, message, winner } = refused;
          return { ok: false, error: new RefusedError({ code, message, winner }) };
        }
        // Applied at the MDC, and the cycle brought its state back: the body carries the MDC's version.
        return {
          ok: true,
          body: await this.current(r.entry.change),
          syncState: 'synced',
        } satisfies WriteOutcome;
      }),
    );
  }

  /** A write's target as the cache holds it now (undefined once deleted). */
  private async current(change: Change): Promise<DomainView | EntityView | undefined> {
    if (isDomainChange(change)) return (await this.store.domainsById([change.id])).get(change.id)?.domain;
    return (await this.store.entityById(change.domain, change.id))?.entity;
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
