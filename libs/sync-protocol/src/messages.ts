import type { Change, Domain, Entity, RuleCode } from '@dd/directory';
import type { DomainDigest } from '@dd/directory';

/**
 * The site ↔ MDC protocol (SPEC §7, §8). Every call is signed by the calling site (SPEC §9)
 * and answered only for that site's own identity and scope.
 */
export const SYNC_PROTOCOL_VERSION = 1;
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
  | { seq: number; status: 'gap'; expected: number };

export interface PushResponse {
  verdicts: PushVerdict[];
  /** the highest seq the MDC has applied or refused for this (site, epoch) */
  lastSeq: number;
}

export interface PullRequest {
  /** the change-log version the site has seen everything up to; '0' for none */
  cursor: string;
  limit?: number;
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
}

export interface ManifestRequest {
  /** false: only the root digest (a no-change cycle compares one value) */
  detail: boolean;
}

export interface ManifestResponse {
  /** the change-log head the digests are consistent with */
  version: string;
  root: string;
  domains?: Array<{ name: string } & DomainDigest>;
}

export interface SnapshotRequest {
  /** the domains to send whole; omit for the site's whole scope */
  domains?: string[];
}

export interface SnapshotResponse {
  version: string;
  /** the whole live domain tree (settings only for the site's scope) */
  tree: Array<{ domain: Domain; scoped: boolean }>;
  /** the requested domains' entities */
  entities: Entity[];
}

/** SSE `data:` of the change signal: the change log moved for the site's scope. */
export interface SignalEvent {
  version: string;
}
