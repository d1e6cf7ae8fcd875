import type { Change, Domain, Entity, RuleCode } from '@dd/directory';
import type { DomainDigest } from '@dd/directory';

/**
 * The site ↔ MDC protocol (SPEC §7, §8). Every call is signed by the calling site (SPEC §9)
 * and answered only for that site's own identity and scope.
 */
export const SYNC_PROTOCOL_VERSION = 1;
export const DEFAULT_SNAPSHOT_PAGE = 5000;
export const MAX_SNAPSHOT_PAGE = 10000;
export const MAX_MANIFEST_BUCKET_DOMAINS = 1000;
export const SYNC_PATHS = {
  push: '/sync/v1/push',
  pull: '/sync/v1/pull',
  manifest: '/sync/v1/manifest',
  snapshot: '/sync/v1/snapshot',
  signal: '/sync/v1/signal',
} as const;

/** One queued change, numbered by the site that admitted it. */
export interface QueuedChange {
  seq: number;
  change: Change;
  /** the admin who made it */
  actor: string;
  /** when the site admitted it (ISO 8601) */
  at: string;
  /**
   * SPEC §11: sent again after a failover that lost its verdict, the change was refused at first
   * with this code — DomainDB records the refusal again and never applies it (the first verdict holds)
   */
  refused?: RuleCode;
}

export interface PushRequest {
  /** random id drawn whenever the site's queue state is new (SPEC §7: no "USN rollback") */
  epoch: string;
  changes: QueuedChange[];
  /** queue length at the site when it sent this batch, for /cluster/status */
  queueLength?: number;
}

export type PushVerdict =
  | { seq: number; status: 'applied'; version: string; replayed: boolean }
  | {
      seq: number;
      status: 'rejected';
      code: RuleCode;
      message: string;
      winner: Domain | Entity | { id: string; deletedAt: string } | null;
      replayed: boolean;
    }
  /** seq skipped ahead of the next expected one: not applied, nothing after it either; resend from `expected` */
  | { seq: number; status: 'gap'; expected: number }
  /**
   * SPEC §7, §11: DomainDB holds this seq of the epoch for another change — the site's Redis went
   * back in time (a failover) and gave it again. Nothing from it on was applied; the site goes on
   * under a new epoch.
   */
  | { seq: number; status: 'reused' };

export interface PushResponse {
  verdicts: PushVerdict[];
  /** the highest seq the MDC has applied or refused for this (site, epoch) */
  lastSeq: number;
}

export interface PullRequest {
  /** the change-log version the site has seen everything up to; '0' for none */
  cursor: string;
  limit?: number;
  /**
   * the site's queue length as it pulls (after its push), for /cluster/status (SPEC §10: fresh —
   * a push reports it before its batch leaves the queue); a site of an older version sends none
   */
  queueLength?: number;
  /**
   * the site's epoch: the answer then says the highest seq DomainDB has decided for it (SPEC §11
   * failover without loss — a site acknowledged past it pushes the lost range again)
   */
  epoch?: string;
}

export type PulledChange =
  /** `scoped: false` for a domain the site does not serve: tree data only, settings withheld */
  | { type: 'domain.put'; version: string; domain: Domain; scoped: boolean }
  | { type: 'domain.delete'; version: string; id: string; name: string }
  | { type: 'entity.put'; version: string; entity: Entity }
  | { type: 'entity.delete'; version: string; id: string; domain: string };

export interface PullResponse {
  /** the cursor is older than the tombstone retention: do a full reload (snapshot) instead */
  reload: boolean;
  /** pass back as the next cursor */
  cursor: string;
  /** more changes wait past this page */
  more: boolean;
  changes: PulledChange[];
  /** with the request's `epoch`: the highest seq decided for (site, epoch), as a push answers it */
  lastSeq?: number;
}

export interface ManifestRequest {
  /** false: only the root digest (a no-change cycle compares one value) */
  detail: boolean;
  /** domains whose per-bucket digests are wanted (at most MAX_MANIFEST_BUCKET_DOMAINS), to narrow a difference */
  buckets?: string[];
}

/** One bucket's digest: the entities of a domain whose `bucketOf(id)` is `bucket` (SPEC §8 scale). */
export interface BucketDigest extends DomainDigest {
  bucket: number;
}

export interface ManifestResponse {
  /** the change-log head the digests are consistent with */
  version: string;
  root: string;
  domains?: Array<{ name: string } & DomainDigest>;
  /**
   * per requested domain in the site's scope, its non-empty buckets. A domain's digest is its own
   * record's element hash plus the sum of its bucket digests.
   */
  buckets?: Array<{ name: string; buckets: BucketDigest[] }>;
}

/** Where a paged snapshot goes on: after this entity in (domain bytewise, bucket, id) order. */
export interface SnapshotCursor {
  domain: string;
  bucket: number;
  id: string;
}

/**
 * A page of the MDC's current state for the site's scope (SPEC §8: paged snapshots, keyset cursor).
 * Each page is read on its own (its `version` is the head it was read at): a site that has loaded
 * every page then pulls the log from the first page's version, which makes the result exact.
 */
export interface SnapshotRequest {
  /** also send the whole live domain tree (on the first page); default false */
  tree?: boolean;
  /** whole domains to send; with neither `domains` nor `slices`, the site's whole scope */
  domains?: string[];
  /** only these buckets of these domains (a repair); no buckets: only the domain's record */
  slices?: Array<{ domain: string; buckets: number[] }>;
  /** the previous page's `next` */
  after?: SnapshotCursor;
  /** entities per page, 1 to MAX_SNAPSHOT_PAGE (default DEFAULT_SNAPSHOT_PAGE) */
  limit?: number;
}

export interface SnapshotResponse {
  /** the change-log head this page was read at */
  version: string;
  /** the whole live tree (settings only for the site's scope), when asked for, on the first page */
  tree?: Array<{ domain: Domain; scoped: boolean }>;
  /**
   * on the first page (no `after`): the live records of the requested domains that are in the
   * site's scope; a requested domain missing here is gone or out of scope
   */
  records: Domain[];
  /** entities of the requested domains / slices, ordered by domain (bytewise), bucket, id */
  entities: Entity[];
  /** pass back as `after` for the next page; null: this was the last page */
  next: SnapshotCursor | null;
}

/** SSE `data:` of the change signal: the change log moved for the site's scope. */
export interface SignalEvent {
  version: string;
  /**
   * the MDC lost DomainDB and has it back — perhaps a failover that moved the head back (SPEC §11):
   * run a whole cycle, whatever `version` says
   */
  resync?: true;
}
