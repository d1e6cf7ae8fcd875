import { Inject, Injectable } from '@nestjs/common';
import {
  ApiError,
  ClusterConfigService,
  DomainRequest,
  ForwardedAnswer,
  SitesUnreachableError,
  SiteRouting,
} from '@dd/admin-api';
import { ClusterConfig, masterSite, servingSites, siteServes } from '@dd/cluster-config';
import { SiteCacheStore } from '../cache/site-cache.store';
import { SdcMetrics } from '../ops/sdc.metrics';
import { ProxyForwarder, SiteTarget } from '../remote';

type Route = { here: true } | { here: false; targets: SiteTarget[]; mdcOnly: boolean };

/**
 * SPEC §9 at a work site: a request for a domain the site serves (and has loaded) is answered here;
 * any other goes to a site that serves it — peers in config order, then the MDC — and the answer
 * comes back unchanged. A proxied request is never proxied again. Runs after authentication and the
 * scope check (`RoutingInterceptor`), so nothing the site would refuse is forwarded.
 */
@Injectable()
export class SiteRouter implements SiteRouting {
  constructor(
    private readonly config: ClusterConfigService,
    private readonly store: SiteCacheStore,
    @Inject(ProxyForwarder) private readonly forwarder: ProxyForwarder,
    private readonly metrics: SdcMetrics,
  ) {}

  async route(request: DomainRequest): Promise<'here' | ForwardedAnswer> {
    const route = await this.decide(request);
    if (route.here) return 'here';
    // SPEC §9: at most one hop; the site that got a proxied request it does not serve says so.
    if (request.proxiedBy) {
      throw new ApiError('misdirected', `site ${this.config.siteId} does not serve ${request.domain}`);
    }
    return this.forward(request, route);
  }

  /**
   * A `POST /batch` op (never forwarded) is answered here when a lone request would be — or when an
   * earlier op of the batch creates its domain (the rules refuse the op if that create was refused).
   * Otherwise it is another site's to answer: 421.
   */
  servesHere(
    request: Pick<DomainRequest, 'domain' | 'method' | 'route'>,
    createdEarlier: boolean,
  ): Promise<boolean> {
    return this.answersHere(request, createdEarlier);
  }

  /**
   * SPEC §8–§9: the master domain is read here from its read-only copy (its writes go to the MDC);
   * another domain is answered here when the config gives it to this site and it is served (loaded
   * whole), or is being created. `uncachedIsHere`: a domain the site does not hold counts as here.
   * One it does not hold because of its own change still queued (a delete made here) is answered
   * here too: a pending local change never flickers away (SPEC §8), as it would if another site,
   * which has not seen it, answered.
   */
  private async answersHere(
    { domain, method, route }: Pick<DomainRequest, 'domain' | 'method' | 'route'>,
    uncachedIsHere: boolean,
  ): Promise<boolean> {
    const config = this.config.current;
    if (domain !== config.masterDomain && !siteServes(config, this.config.siteId, domain)) return false;
    const cached = await this.store.domain(domain);
    if (domain === config.masterDomain) return method === 'GET' && cached?.scoped === true;
    if (method === 'POST' && route === '/api/v1/domains') return true;
    if (cached !== undefined) return cached.scoped;
    return uncachedIsHere || (await this.store.domainPending(domain));
  }

  private async decide(request: Pick<DomainRequest, 'domain' | 'method' | 'route'>): Promise<Route> {
    if (await this.answersHere(request, false)) return { here: true };
    const config = this.config.current;
    if (request.domain === config.masterDomain) {
      const master = masterSite(config);
      return { here: false, targets: [{ id: master.id, url: master.url }], mdcOnly: true };
    }
    return {
      here: false,
      targets: targets(
        config,
        request.domain,
        this.config.siteId,
        siteServes(config, this.config.siteId, request.domain),
      ),
      mdcOnly: false,
    };
  }

  private async forward(request: DomainRequest, route: Route & { here: false }): Promise<ForwardedAnswer> {
    const timer = this.metrics.proxyLatency.startTimer();
    try {
      const answer = await this.forwarder.forward(
        route.targets,
        { method: request.method, pathWithQuery: request.url, headers: request.headers, body: request.body },
        route.mdcOnly,
      );
      this.metrics.proxyCalls.inc({ target: answer.servedBy, outcome: String(answer.status) });
      return answer;
    } catch (err) {
      if (err instanceof SitesUnreachableError) {
        this.metrics.proxyCalls.inc({ target: err.tried.join(','), outcome: 'unreachable' });
      }
      throw err;
    } finally {
      timer();
    }
  }
}

/**
 * The sites serving `name` other than this one, in config order, then the MDC (which holds every
 * domain). For a domain of this site's own zones that it does not hold (its zone not loaded yet,
 * or the domain deleted), the MDC first, then those peers: DomainDB is the truth, and a peer may
 * not have pulled yet what this site already has — a delete made here that the MDC acknowledged
 * would show there as still alive.
 */
function targets(config: ClusterConfig, name: string, self: string, ownZone: boolean): SiteTarget[] {
  const serving = new Set(servingSites(config, name));
  const peers = config.sites.filter((s) => s.id !== self && s.role !== 'master' && serving.has(s.id));
  const master = masterSite(config);
  return (ownZone ? [master, ...peers] : [...peers, master]).map((s) => ({ id: s.id, url: s.url }));
}
