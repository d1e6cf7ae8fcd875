import {
  ManifestResponse,
  PullRequest,
  PullResponse,
  PushRequest,
  PushResponse,
  SnapshotRequest,
  SnapshotResponse,
  SYNC_PATHS,
} from '@dd/sync-protocol';
import { MdcFailedError, MdcRefusedError, MdcUnreachableError, SiteUnreachableError } from './errors';
import { SiteHttp, SiteTarget } from './site-http';

/** Bad gateway, service unavailable, gateway timeout: the MDC is not there to answer. */
const OUTAGE_STATUSES = new Set([502, 503, 504]);

/** SPEC §7, §8: the signed calls a site makes to the MDC (push, pull, manifest, snapshot). */
export class MdcClient {
  constructor(
    private readonly http: SiteHttp,
    /** read on every call, so a config reload that moves the MDC takes effect at once (SPEC §4) */
    private readonly master: () => SiteTarget,
  ) {}

  push(req: PushRequest): Promise<PushResponse> {
    return this.call<PushResponse>(SYNC_PATHS.push, req);
  }

  pull(req: PullRequest): Promise<PullResponse> {
    return this.call<PullResponse>(SYNC_PATHS.pull, req);
  }

  /** `buckets`: the domains whose per-bucket digests are wanted (SPEC §8: narrowing a difference) */
  manifest(detail: boolean, buckets?: string[]): Promise<ManifestResponse> {
    return this.call<ManifestResponse>(SYNC_PATHS.manifest, buckets ? { detail, buckets } : { detail });
  }

  /** One page of a snapshot (SPEC §8: paged, keyset cursor). */
  snapshot(req: SnapshotRequest): Promise<SnapshotResponse> {
    return this.call<SnapshotResponse>(SYNC_PATHS.snapshot, req);
  }

  private async call<T>(path: string, body: unknown): Promise<T> {
    const answer = await this.http.request(this.master(), 'POST', path, body).catch((err: unknown) => {
      throw err instanceof SiteUnreachableError ? new MdcUnreachableError(err.message, { cause: err }) : err;
    });
    // SPEC §8: a 502/503/504 (a load balancer with no MDC behind it, an MDC restarting or without
    // its database) is an outage like a refused connection; any other 5xx is the MDC failing the call
    // (told apart, so an operator sees it); a 4xx is its verdict. The cycle ends; the queue stays.
    if (OUTAGE_STATUSES.has(answer.status)) {
      throw new MdcUnreachableError(`the MDC answered ${answer.status} to ${path}: ${answer.text}`);
    }
    if (answer.status >= 500) throw new MdcFailedError(answer.status, answer.body, path);
    if (answer.status < 200 || answer.status >= 300) throw new MdcRefusedError(answer.status, answer.body);
    if (typeof answer.body !== 'object' || answer.body === null) {
      throw new MdcUnreachableError(`the MDC answered ${path} without a JSON object`);
    }
    return answer.body as T;
  }
}
