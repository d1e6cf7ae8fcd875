import { Injectable } from '@nestjs/common';
import { ApiError, ClusterConfigService, decodeCursor, pageOf } from '@dd/admin-api';
import { PushLedgerStore } from '../sync/push-ledger.store';
import { DirectoryStore } from '../directory/directory.store';
import { ChangeSignalService } from '../sync/change-signal.service';

/**
 * SPEC §8, §10: a work site pulls once per cycle, so one that has not contacted the MDC (pushed or
 * pulled) for two whole intervals plus a slow cycle's slack has missed cycles: it is stale.
 */
export function staleAfterMs(syncIntervalMs: number): number {
  return 2 * syncIntervalMs + 5000;
}

/** A work site is stale when its last push or pull is older than `staleAfter`, or it never made one; the master never is. */
export function isStale(
  role: string,
  report: { lastPushAt: string | null; lastPullAt: string | null } | undefined,
  now: number,
  staleAfter: number,
): boolean {
  if (role === 'master') return false;
  const contacts = [report?.lastPushAt, report?.lastPullAt].filter((at): at is string => !!at);
  const last = Math.max(...contacts.map((at) => Date.parse(at)));
  return contacts.length === 0 || now - last > staleAfter;
}

/** What /cluster/status, /audit and the MDC's /sync/status show. */
@Injectable()
export class ClusterStatusService {
  constructor(
    private readonly ledger: PushLedgerStore,
    private readonly store: DirectoryStore,
    private readonly config: ClusterConfigService,
    private readonly signal: ChangeSignalService,
  ) {}

  async clusterStatus() {
    return (await this.clusterStatusAt()).status;
  }

  /** /cluster/status and the database's clock it was read at, which its times and ages are on. */
  async clusterStatusAt() {
    const head = BigInt(await this.store.head());
    // Ages on the database's clock, which wrote the times (a skewed MDC host clock must not make sites stale).
    const { now, sites } = await this.ledger.statuses();
    const reported = new Map(sites.map((s) => [s.site, s]));
    const staleAfter = staleAfterMs(this.config.syncIntervalMs);
    const status = {
      head: head.toString(),
      staleAfterMs: staleAfter,
      sites: this.config.current.sites.map((site) => {
        const s = reported.get(site.id);
        return {
          site: site.id,
          role: site.role,
          url: site.url,
          lastPushAt: s?.lastPushAt ?? null,
          lastResyncAt: s?.lastPullAt ?? null,
          epoch: s?.epoch ?? null,
          lastAppliedSeq: s?.lastSeq ?? null,
          queueLength: s?.queueLength ?? null,
          lagVersions: s?.pulledVersion ? (head - BigInt(s.pulledVersion)).toString() : null,
          lagMs: s?.lastPullAt ? now - Date.parse(s.lastPullAt) : null,
          stale: isStale(site.role, s, now, staleAfter),
        };
      }),
    };
    return { now, status };
  }

  /** SPEC §5 /audit: a page of applied changes, newest first; `after` is the `next` of the page before. */
  async audit(domain: string | undefined, limit: number, after: string | undefined) {
    const rows = await this.store.auditLog(domain, limit + 1, auditCursor(after));
    const { items, next } = pageOf(rows, limit, (row) => [row.id]);
    return { items: items.map(({ id: _id, ...entry }) => entry), next };
  }

  /** SPEC §5 /sync/status at the master site: it has no queue and is its own MDC. */
  async syncStatus() {
    return {
      site: this.config.siteId,
      role: 'master',
      epoch: null,
      queue: { length: 0, capacity: this.config.current.cluster.submitQueueCapacity, oldestAgeMs: null },
      mdcReachable: true,
      signalConnected: true,
      signalSubscribers: this.signal.subscribers,
      head: await this.store.head(),
      lastPushAt: null,
      lastResyncAt: null,
      lastCycle: null,
      servedZones: ['*'],
    };
  }
}

/** An audit cursor carries the row id the page before ended at. */
function auditCursor(raw: string | undefined): string | undefined {
  const key = decodeCursor(raw, 1)?.[0];
  if (key !== undefined && !/^[1-9]\d{0,17}$/.test(key))
    throw new ApiError('validation_failed', 'after is not a cursor this API gave out');
  return key;
}
