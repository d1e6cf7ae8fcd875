import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { rootDigest } from '@dd/directory';
import { ClusterConfigService } from '@dd/admin-api';
import type { ClusterConfig } from '@dd/cluster-config';
import {
  DEFAULT_SNAPSHOT_PAGE,
  type ManifestRequest,
  type ManifestResponse,
  type PullRequest,
  type PullResponse,
  type PulledChange,
  type SnapshotCursor,
  type SnapshotRequest,
  type SnapshotResponse,
} from '@dd/sync-protocol';
import { MdcMetrics } from '../ops/mdc.metrics';
import { PushLedgerStore } from './push-ledger.store';
import { SiteFeedStore, Slice } from './site-feed.store';
import { inSiteScope } from './site-scope';

const DEFAULT_PULL_VERSIONS = 1000;

/** SPEC §8 resync, the MDC's side: pull by cursor, the manifest, and paged snapshots. */
@Injectable()
export class SiteFeedService {
  constructor(
    private readonly feed: SiteFeedStore,
    private readonly ledger: PushLedgerStore,
    private readonly config: ClusterConfigService,
    private readonly metrics: MdcMetrics,
  ) {}

  /** The change log's head: what a site's signal stream announces first. */
  async head(): Promise<string> {
    return (await this.feed.consistent((tx) => this.feed.head(tx))).toString();
  }

  /**
   * Changes after the cursor for the site's scope, deletes included; domain tree changes go to
   * everyone. An object changed several times is sent once, in its current state.
   */
  async pull(site: string, request: PullRequest): Promise<PullResponse> {
    const config = this.config.current;
    const cursor = BigInt(request.cursor);
    const response = await this.feed.consistent(async (tx): Promise<PullResponse> => {
      const page = await this.page(tx, site, request, cursor, config);
      // SPEC §11: what DomainDB has decided of the site's epoch — after a failover it may be less
      // than the site saw acknowledged, and the site pushes that range again.
      if (request.epoch !== undefined) page.lastSeq = await this.ledger.lastSeq(tx, site, request.epoch);
      return page;
    });
    this.metrics.pullRequests.inc({ site });
    await this.ledger.notePull(site, response.cursor, request.queueLength);
    return response;
  }

  private async page(
    tx: EntityManager,
    site: string,
    request: PullRequest,
    cursor: bigint,
    config: ClusterConfig,
  ): Promise<PullResponse> {
    const head = await this.feed.head(tx);
    // SPEC §3: a site away longer than the tombstone retention may have missed deletes: full reload.
    // SPEC §11: so does a site that pulled past the head — DomainDB lost its last changes in a failover.
    if (cursor < (await this.feed.purgedThrough(tx)) || cursor > head) {
      return { reload: true, cursor: head.toString(), more: false, changes: [] };
    }
    const limit = request.limit ?? DEFAULT_PULL_VERSIONS;
    const { rows, versions } = await this.feed.logSince(tx, cursor, limit);
    if (rows.length === 0) return { reload: false, cursor: cursor.toString(), more: false, changes: [] };
    const ids = (type: 'domain' | 'entity') => [
      ...new Set(rows.filter((r) => r.objectType === type).map((r) => r.objectId)),
    ];
    const domains = await this.feed.domainsById(tx, ids('domain'));
    const entities = await this.feed.entitiesById(tx, ids('entity'));
    const changes: PulledChange[] = [];
    for (const { domain, deleted } of domains) {
      if (deleted)
        changes.push({ type: 'domain.delete', version: domain.version, id: domain.id, name: domain.name });
      else {
        const scoped = inSiteScope(config, site, domain.name);
        changes.push({
          type: 'domain.put',
          version: domain.version,
          domain: scoped ? domain : { ...domain, settings: {} },
          scoped,
        });
      }
    }
    for (const { entity, deleted } of entities) {
      if (!inSiteScope(config, site, entity.domain)) continue;
      changes.push(
        deleted
          ? { type: 'entity.delete', version: entity.version, id: entity.id, domain: entity.domain }
          : { type: 'entity.put', version: entity.version, entity },
      );
    }
    changes.sort((a, b) => Number(BigInt(a.version) - BigInt(b.version)));
    return { reload: false, cursor: rows[rows.length - 1].version, more: versions === limit, changes };
  }

  /**
   * Per-domain digests of the site's scope and their root; a no-change cycle compares the root
   * alone. SPEC §8 scale: the buckets of the requested domains narrow a difference.
   */
  async manifest(site: string, request: ManifestRequest): Promise<ManifestResponse> {
    const config = this.config.current;
    return this.feed.consistent(async (tx) => {
      const head = await this.feed.head(tx);
      const domains = (await this.feed.digests(tx)).filter((d) => inSiteScope(config, site, d.name));
      const root = rootDigest(domains.map((d) => [d.name, { count: d.count, sum: d.sum }]));
      const response: ManifestResponse = { version: head.toString(), root };
      if (request.detail) response.domains = domains;
      if (request.buckets) {
        const asked = new Set(request.buckets);
        const names = domains.map((d) => d.name).filter((name) => asked.has(name));
        const buckets = await this.feed.bucketDigests(tx, names);
        response.buckets = names.map((name) => ({ name, buckets: buckets.get(name) ?? [] }));
      }
      return response;
    });
  }

  /**
   * SPEC §8 scale: a page of the requested domains (or slices of them) as they stand, live and in
   * the site's scope only, in keyset order; the records, and the tree when asked, on the first page.
   */
  async snapshot(site: string, request: SnapshotRequest): Promise<SnapshotResponse> {
    const config = this.config.current;
    const scoped = (name: string) => inSiteScope(config, site, name);
    const limit = request.limit ?? DEFAULT_SNAPSHOT_PAGE;
    const first = request.after === undefined;
    // A site loading its scope page by page is resyncing, not stale (SPEC §10), however long the load.
    await this.ledger.noteResyncStep(site);
    return this.feed.consistent(async (tx) => {
      const head = await this.feed.head(tx);
      const all = first && request.tree ? await this.feed.liveDomains(tx) : undefined;
      const asked = request.domains ?? request.slices?.map((s) => s.domain);
      const records = asked
        ? await this.feed.liveDomainsNamed(tx, [...new Set(asked.filter(scoped))])
        : (all ?? (await this.feed.liveDomains(tx))).filter((d) => scoped(d.name));
      const names = new Set(records.map((d) => d.name));
      // SPEC §8: domains the cursor has passed are not read again
      const ahead = (name: string) => !request.after || bytewise(name, request.after.domain) >= 0;
      const page = request.slices
        ? await this.feed.slicePage(
            tx,
            slicesInOrder(request.slices, names, request.after),
            request.after,
            limit,
          )
        : await this.feed.entityPage(tx, [...names].filter(ahead), request.after, limit);
      const response: SnapshotResponse = {
        version: head.toString(),
        records: first ? records : [],
        entities: page.entities,
        next: page.entities.length === limit ? page.last : null,
      };
      if (all) {
        response.tree = all.map((domain) =>
          scoped(domain.name)
            ? { domain, scoped: true }
            : { domain: { ...domain, settings: {} }, scoped: false },
        );
      }
      return response;
    });
  }
}

/** PostgreSQL's `COLLATE "C"` order: by UTF-8 bytes. */
function bytewise(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** The wanted (domain, bucket) slices of live in-scope domains, from the cursor's slice on, in snapshot order. */
function slicesInOrder(
  slices: NonNullable<SnapshotRequest['slices']>,
  live: Set<string>,
  after: SnapshotCursor | undefined,
): Slice[] {
  const wanted = new Map<string, Slice>();
  for (const { domain, buckets } of slices) {
    if (!live.has(domain)) continue;
    for (const bucket of buckets) wanted.set(JSON.stringify([domain, bucket]), { domain, bucket });
  }
  const order = (a: Slice, b: Slice) => bytewise(a.domain, b.domain) || a.bucket - b.bucket;
  return [...wanted.values()].filter((s) => !after || order(s, after) >= 0).sort(order);
}
