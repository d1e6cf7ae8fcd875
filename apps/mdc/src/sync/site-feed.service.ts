import { Injectable } from '@nestjs/common';
import { rootDigest } from '@dd/directory';
import { ClusterConfigService } from '@dd/admin-api';
import type {
  ManifestRequest,
  ManifestResponse,
  PullRequest,
  PullResponse,
  PulledChange,
  SnapshotRequest,
  SnapshotResponse,
} from '@dd/sync-protocol';
import { MdcMetrics } from '../ops/mdc.metrics';
import { PushLedgerStore } from './push-ledger.store';
import { SiteFeedStore } from './site-feed.store';
import { inSiteScope } from './site-scope';

const DEFAULT_PULL_VERSIONS = 1000;

/** SPEC §8 resync, the MDC's side: pull by cursor, the manifest, and whole-domain snapshots. */
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
      const head = await this.feed.head(tx);
      // SPEC §3: a site away longer than the tombstone retention may have missed deletes: full reload.
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
    });
    this.metrics.pullRequests.inc({ site });
    await this.ledger.notePull(site, response.cursor);
    return response;
  }

  /** Per-domain digests of the site's scope and their root; a no-change cycle compares the root alone. */
  async manifest(site: string, request: ManifestRequest): Promise<ManifestResponse> {
    const config = this.config.current;
    return this.feed.consistent(async (tx) => {
      const head = await this.feed.head(tx);
      const domains = (await this.feed.digests(tx)).filter((d) => inSiteScope(config, site, d.name));
      const root = rootDigest(domains.map((d) => [d.name, { count: d.count, sum: d.sum }]));
      return { version: head.toString(), root, ...(request.detail ? { domains } : {}) };
    });
  }

  /** Whole domains as they stand, and the whole tree: for a first load, a full reload or a repair. */
  async snapshot(site: string, request: SnapshotRequest): Promise<SnapshotResponse> {
    const config = this.config.current;
    return this.feed.consistent(async (tx) => {
      const head = await this.feed.head(tx);
      const tree = (await this.feed.liveDomains(tx)).map((domain) => {
        const scoped = inSiteScope(config, site, domain.name);
        return { domain: scoped ? domain : { ...domain, settings: {} }, scoped };
      });
      const wanted = request.domains ?? tree.filter((t) => t.scoped).map((t) => t.domain.name);
      const entities = await this.feed.liveEntitiesOf(
        tx,
        wanted.filter((name) => inSiteScope(config, site, name)),
      );
      return { version: head.toString(), tree, entities };
    });
  }
}
