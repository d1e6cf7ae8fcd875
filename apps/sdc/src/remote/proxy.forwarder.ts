import { HEADER, SitesUnreachableError } from '@dd/admin-api';
import { SiteUnreachableError } from './errors';
import { SiteHttp, SiteTarget } from './site-http';

/** The caller's headers that travel with a proxied request: identity, condition, wait, tracing (SPEC §5, §9, §10). */
const FORWARDED_REQUEST_HEADERS: string[] = [
  'authorization',
  HEADER.ifMatch,
  HEADER.waitFor,
  HEADER.requestId,
];
/** The answer's headers that matter to the admin client. */
const RETURNED_ANSWER_HEADERS = [
  'content-type',
  HEADER.servedBy,
  HEADER.syncState,
  HEADER.etag,
  'retry-after',
  HEADER.requestId,
];
/** SPEC §9: the answer of a site that does not serve the domain and will not proxy again. */
const MISDIRECTED = 421;

export interface ProxiedRequest {
  method: string;
  pathWithQuery: string;
  headers: Record<string, string | string[] | undefined>;
  body?: unknown;
}

export interface ProxiedAnswer {
  status: number;
  headers: Record<string, string>;
  body: unknown;
  /** the id of the target that answered */
  servedBy: string;
}

/** SPEC §9: sends a request for a domain this site does not serve to a site that serves it. */
export class ProxyForwarder {
  constructor(
    private readonly http: SiteHttp,
    private readonly selfId: string,
  ) {}

  /**
   * Tries the targets in the caller's order (serving peers in config order, then the MDC) and
   * returns the first answer unchanged. An unreachable target, a 421 or a 5xx (a site failing or
   * without its store — but not 503 `queue_full`, the serving site's own answer to a write) is skipped — never taken for "not found", and another site's 500 is never
   * passed off as this site's answer — and when none answers the error names every site tried
   * (502 `site_unreachable`, or 503 `mdc_unreachable` when `mdcOnly`: a master-domain write, which
   * only the MDC can take).
   */
  async forward(targets: SiteTarget[], request: ProxiedRequest, mdcOnly = false): Promise<ProxiedAnswer> {
    const headers = this.forwardedHeaders(request.headers);
    const tried: string[] = [];
    for (const target of targets) {
      tried.push(target.id);
      // Each target gets SiteHttp's own timeout (5 s by default), so one dead peer costs at most that.
      const answer = await this.http
        .request(target, request.method, request.pathWithQuery, request.body, headers)
        .catch((err: unknown) => {
          if (err instanceof SiteUnreachableError) return undefined;
          throw err;
        });
      if (answer === undefined || answer.status === MISDIRECTED || failed(answer)) continue;
      return {
        status: answer.status,
        headers: pick(answer.headers, RETURNED_ANSWER_HEADERS),
        body: answer.body,
        servedBy: target.id,
      };
    }
    throw new SitesUnreachableError(tried, mdcOnly);
  }

  private forwardedHeaders(incoming: ProxiedRequest['headers']): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(incoming)) {
      const key = name.toLowerCase();
      if (!FORWARDED_REQUEST_HEADERS.includes(key) || value === undefined) continue;
      out[key] = Array.isArray(value) ? value.join(', ') : value;
    }
    // SPEC §9: at most one hop — the target sees the request was proxied and never proxies it again.
    out[HEADER.proxiedBy] = this.selfId;
    return out;
  }
}

function pick(headers: Headers, names: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const value = headers.get(name);
    if (value !== null) out[name] = value;
  }
  return out;
}

/** A 5xx that says the target failed, not what it decided: 503 `queue_full` is a verdict (SPEC §6). */
function failed(answer: { status: number; body: unknown }): boolean {
  if (answer.status < 500) return false;
  const body = answer.body;
  const code = typeof body === 'object' && body !== null && 'code' in body ? body.code : undefined;
  return !(answer.status === 503 && code === 'queue_full');
}
