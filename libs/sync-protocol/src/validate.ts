import type { Change, JsonObject, RuleCode } from '@dd/directory';
import { DIGEST_BUCKETS, isJsonObject, RULE_CODES } from '@dd/directory';
import {
  type ManifestRequest,
  MAX_MANIFEST_BUCKET_DOMAINS,
  MAX_SNAPSHOT_PAGE,
  type PullRequest,
  type PushRequest,
  type QueuedChange,
  type SnapshotRequest,
} from './messages';

/** A message that does not have the protocol's shape; the receiver answers 400 and applies nothing. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly kind = 'protocol';
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const MAX_PUSH_BATCH = 1000;

function fail(path: string, what: string): never {
  throw new ProtocolError(`${path}: ${what}`);
}

function str(o: Record<string, unknown>, key: string, path: string): string {
  const v = o[key];
  if (typeof v !== 'string') fail(`${path}.${key}`, 'must be a string');
  return v;
}

function obj(o: Record<string, unknown>, key: string, path: string): JsonObject {
  const v = o[key];
  if (!isJsonObject(v)) fail(`${path}.${key}`, 'must be a JSON object');
  return v;
}

function uuid(o: Record<string, unknown>, path: string): string {
  const id = str(o, 'id', path);
  if (!UUID.test(id)) fail(`${path}.id`, 'must be a UUID');
  return id.toLowerCase();
}

/** Shape only: names, kinds and sizes are the rules' business (they refuse with validation_failed). */
export function parseChange(raw: unknown, path = 'change'): Change {
  if (!isJsonObject(raw)) fail(path, 'must be an object');
  const o = raw as Record<string, unknown>;
  const id = uuid(o, path);
  switch (o.op) {
    case 'domain.create': {
      const parent = o.parent === null ? null : str(o, 'parent', path);
      return { op: o.op, id, name: str(o, 'name', path), parent, settings: obj(o, 'settings', path) };
    }
    case 'domain.update':
      return { op: o.op, id, name: str(o, 'name', path), patch: obj(o, 'patch', path) };
    case 'domain.delete':
      if (typeof o.recursive !== 'boolean') fail(`${path}.recursive`, 'must be a boolean');
      return { op: o.op, id, name: str(o, 'name', path), recursive: o.recursive };
    case 'entity.create':
      return {
        op: o.op,
        id,
        domain: str(o, 'domain', path),
        kind: str(o, 'kind', path),
        name: str(o, 'name', path),
        attributes: obj(o, 'attributes', path),
      };
    case 'entity.update':
      return {
        op: o.op,
        id,
        domain: str(o, 'domain', path),
        kind: str(o, 'kind', path),
        name: str(o, 'name', path),
        patch: obj(o, 'patch', path),
      };
    case 'entity.delete':
      return {
        op: o.op,
        id,
        domain: str(o, 'domain', path),
        kind: str(o, 'kind', path),
        name: str(o, 'name', path),
      };
    default:
      return fail(`${path}.op`, `unknown operation ${JSON.stringify(o.op)}`);
  }
}

export function parsePushRequest(raw: unknown): PushRequest {
  if (!isJsonObject(raw)) fail('push', 'must be an object');
  const o = raw as Record<string, unknown>;
  const epoch = epochOf(str(o, 'epoch', 'push'), 'push.epoch');
  if (!Array.isArray(o.changes)) fail('push.changes', 'must be a list');
  if (o.changes.length > MAX_PUSH_BATCH) fail('push.changes', `at most ${MAX_PUSH_BATCH} per batch`);
  const seen = new Set<number>();
  const changes = o.changes.map((c: unknown, i: number): QueuedChange => {
    const path = `push.changes[${i}]`;
    if (!isJsonObject(c)) fail(path, 'must be an object');
    const q = c as Record<string, unknown>;
    if (!Number.isSafeInteger(q.seq) || (q.seq as number) < 1)
      fail(`${path}.seq`, 'must be a positive integer');
    const seq = q.seq as number;
    if (seen.has(seq)) fail(`${path}.seq`, `seq ${seq} appears twice`);
    seen.add(seq);
    const queued: QueuedChange = {
      seq,
      change: parseChange(q.change, `${path}.change`),
      actor: str(q, 'actor', path),
      at: str(q, 'at', path),
    };
    if (q.refused !== undefined) {
      if (!(RULE_CODES as readonly unknown[]).includes(q.refused))
        fail(`${path}.refused`, 'must be a rule code');
      queued.refused = q.refused as RuleCode;
    }
    return queued;
  });
  return { epoch, changes, queueLength: queueLengthOf(o, 'push') };
}

function epochOf(epoch: string, path: string): string {
  if (epoch.length < 8 || epoch.length > 64) fail(path, 'must be 8 to 64 characters');
  return epoch;
}

const MAX_INT32 = 2_147_483_647;

/** What a site reports of its queue, for /cluster/status (optional: older sites send none). */
function queueLengthOf(o: Record<string, unknown>, path: string): number | undefined {
  const queueLength = o.queueLength;
  // site_status.queue_length is a 32-bit integer column: a larger figure would fail the pull's upsert.
  if (
    queueLength !== undefined &&
    (!Number.isSafeInteger(queueLength) || (queueLength as number) < 0 || (queueLength as number) > MAX_INT32)
  ) {
    fail(`${path}.queueLength`, `must be an integer from 0 to ${MAX_INT32}`);
  }
  return queueLength as number | undefined;
}

const VERSION = /^(0|[1-9][0-9]{0,18})$/;

export function parsePullRequest(raw: unknown): PullRequest {
  if (!isJsonObject(raw)) fail('pull', 'must be an object');
  const o = raw as Record<string, unknown>;
  const cursor = str(o, 'cursor', 'pull');
  if (!VERSION.test(cursor)) fail('pull.cursor', 'must be a change-log version');
  const limit = o.limit;
  if (
    limit !== undefined &&
    (!Number.isSafeInteger(limit) || (limit as number) < 1 || (limit as number) > 10000)
  ) {
    fail('pull.limit', 'must be an integer from 1 to 10000');
  }
  const request: PullRequest = {
    cursor,
    limit: limit as number | undefined,
    queueLength: queueLengthOf(o, 'pull'),
  };
  if (o.epoch !== undefined) request.epoch = epochOf(str(o, 'epoch', 'pull'), 'pull.epoch');
  return request;
}

// A name here reaches a query; PostgreSQL refuses text holding NUL, which no domain name has.
const isName = (v: unknown): v is string => typeof v === 'string' && !v.includes('\u0000');

function names(v: unknown, path: string, max: number): string[] {
  if (!Array.isArray(v) || !v.every(isName)) fail(path, 'must be a list of domain names');
  if (v.length > max) fail(path, `at most ${max} domains`);
  return v as string[];
}

function domainName(o: Record<string, unknown>, path: string): string {
  const name = str(o, 'domain', path);
  if (!isName(name)) fail(`${path}.domain`, 'must be a domain name');
  return name;
}

function bucket(v: unknown, path: string): number {
  if (!Number.isSafeInteger(v) || (v as number) < 0 || (v as number) >= DIGEST_BUCKETS) {
    fail(path, `must be an integer from 0 to ${DIGEST_BUCKETS - 1}`);
  }
  return v as number;
}

export function parseManifestRequest(raw: unknown): ManifestRequest {
  if (raw === undefined || raw === null) return { detail: false };
  if (!isJsonObject(raw)) fail('manifest', 'must be an object');
  const o = raw as Record<string, unknown>;
  if (o.detail !== undefined && typeof o.detail !== 'boolean') fail('manifest.detail', 'must be a boolean');
  const request: ManifestRequest = { detail: o.detail === true };
  if (o.buckets !== undefined)
    request.buckets = names(o.buckets, 'manifest.buckets', MAX_MANIFEST_BUCKET_DOMAINS);
  return request;
}

export function parseSnapshotRequest(raw: unknown): SnapshotRequest {
  if (raw === undefined || raw === null) return {};
  if (!isJsonObject(raw)) fail('snapshot', 'must be an object');
  const o = raw as Record<string, unknown>;
  const request: SnapshotRequest = {};
  if (o.tree !== undefined) {
    if (typeof o.tree !== 'boolean') fail('snapshot.tree', 'must be a boolean');
    request.tree = o.tree;
  }
  if (o.domains !== undefined)
    request.domains = names(o.domains, 'snapshot.domains', MAX_MANIFEST_BUCKET_DOMAINS);
  if (o.slices !== undefined) {
    if (request.domains) fail('snapshot.slices', 'cannot be given with snapshot.domains');
    if (!Array.isArray(o.slices)) fail('snapshot.slices', 'must be a list');
    if (o.slices.length > MAX_MANIFEST_BUCKET_DOMAINS) {
      fail('snapshot.slices', `at most ${MAX_MANIFEST_BUCKET_DOMAINS} domains`);
    }
    request.slices = o.slices.map((raw: unknown, i: number) => {
      const path = `snapshot.slices[${i}]`;
      if (!isJsonObject(raw)) fail(path, 'must be an object');
      const s = raw as Record<string, unknown>;
      // no buckets: only the domain's own record (its digest differs, none of its buckets does)
      if (!Array.isArray(s.buckets)) fail(`${path}.buckets`, 'must be a list');
      return {
        domain: domainName(s, path),
        buckets: [...new Set(s.buckets.map((b: unknown, j: number) => bucket(b, `${path}.buckets[${j}]`)))],
      };
    });
  }
  if (o.after !== undefined) {
    if (!isJsonObject(o.after)) fail('snapshot.after', 'must be an object');
    const a = o.after as Record<string, unknown>;
    request.after = {
      domain: domainName(a, 'snapshot.after'),
      bucket: bucket(a.bucket, 'snapshot.after.bucket'),
      id: uuid(a, 'snapshot.after'),
    };
  }
  if (o.limit !== undefined) {
    if (
      !Number.isSafeInteger(o.limit) ||
      (o.limit as number) < 1 ||
      (o.limit as number) > MAX_SNAPSHOT_PAGE
    ) {
      fail('snapshot.limit', `must be an integer from 1 to ${MAX_SNAPSHOT_PAGE}`);
    }
    request.limit = o.limit as number;
  }
  return request;
}
