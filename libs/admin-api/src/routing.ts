import { CallHandler, ExecutionContext, Inject, Injectable, NestInterceptor } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { Observable, of } from 'rxjs';
import { NonceStore, scopeAllows } from '@dd/site-auth';
import { assertAddressable } from './addressing';
import type { AdminRequest } from './auth';
import { ClusterConfigService } from './cluster-config.service';
import { ApiError } from './errors';
import { HEADER } from './headers';

/** A directory request as the routing sees it, after authentication. */
export interface DomainRequest {
  /** the domain the request is about: the `:name` of its path, or the name a POST /domains creates */
  domain: string;
  method: string;
  /** the route pattern, e.g. `/api/v1/domains/:name` */
  route: string;
  /** path and query as received */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  /** the site that proxied it here (SPEC §9: signed), undefined for a request from a client */
  proxiedBy: string | undefined;
}

/** The answer another site gave, to be returned unchanged (SPEC §9). */
export interface ForwardedAnswer {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/** Where a directory request is answered: here, or by another site whose answer comes back (SPEC §9). */
export interface SiteRouting {
  route(request: DomainRequest): Promise<'here' | ForwardedAnswer>;
  /**
   * Whether this site answers such a request itself (a `POST /batch` op is never forwarded);
   * `createdEarlier`: an earlier op of the batch creates this domain.
   */
  servesHere(
    request: Pick<DomainRequest, 'domain' | 'method' | 'route'>,
    createdEarlier: boolean,
  ): Promise<boolean>;
}
export const SITE_ROUTING = Symbol('SiteRouting');
/** The nonces of proxied hops: shared by every replica of the site (SPEC §9 replay protection). */
export const HOP_NONCES = Symbol('HopNonces');

/** The MDC holds every domain: it answers everything itself and never proxies (SPEC §9). */
export const ANSWER_HERE: SiteRouting = { route: async () => 'here', servesHere: async () => true };

type RoutedRequest = AdminRequest & { rawBody?: Buffer };

/**
 * SPEC §9 inside the Nest pipeline, after the admin auth guard: the names a request addresses are
 * checked first (SPEC §5, `assertAddressable`: before routing or a store sees them); a proxied
 * request must carry the forwarding site's signature; a request about a domain is checked against
 * the caller's scope —
 * here, once, for every directory route — and then answered here or forwarded. A site thus never
 * forwards what it would refuse itself, and every refusal goes through the one exception filter.
 *
 * Bound to the API's controllers (`@UseInterceptors`), not to the app: an interceptor costs each
 * request it wraps an rxjs pipeline, which `/health` and `/metrics` — no names, never proxied —
 * do without (issue 15). Its app provides `SITE_ROUTING` and `HOP_NONCES` from a global module.
 */
@Injectable()
export class RoutingInterceptor implements NestInterceptor {
  constructor(
    private readonly config: ClusterConfigService,
    @Inject(HOP_NONCES) private readonly nonces: NonceStore,
    @Inject(SITE_ROUTING) private readonly routing: SiteRouting,
  ) {}

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    const http = context.switchToHttp();
    const request = http.getRequest<RoutedRequest>();
    assertAddressable(request);
    const proxiedBy = await this.verifiedHop(request);
    const domain = routedDomain(request);
    if (domain === undefined) return next.handle();
    if (request.admin && !scopeAllows(request.admin.scope, domain)) {
      throw new ApiError('forbidden', `admin ${request.admin.name} has no access to domain ${domain}`);
    }
    const answer = await this.routing.route({
      domain,
      method: request.method,
      route: request.routeOptions?.url ?? '',
      url: request.url,
      headers: request.headers,
      body: request.body,
      proxiedBy,
    });
    if (answer === 'here') return next.handle();
    http.getResponse<FastifyReply>().status(answer.status).headers(answer.headers);
    return of(answer.status === 204 ? undefined : answer.body);
  }

  /**
   * SPEC §9: a proxied request is a site-to-site call, signed by the forwarding site for this one.
   * Returns that site's id, undefined for a request that did not come through a proxy hop.
   */
  private async verifiedHop(request: RoutedRequest): Promise<string | undefined> {
    if (request.headers[HEADER.proxiedBy] === undefined) return undefined;
    const result = await this.config.verifySiteCall(request, this.nonces);
    if (!result.ok) throw new ApiError('unauthorized', `proxied call refused: ${result.reason}`);
    if (result.siteId !== request.headers[HEADER.proxiedBy]) {
      throw new ApiError('unauthorized', 'proxied call refused: x-proxied-by is not the signing site');
    }
    return result.siteId;
  }
}

/** The domain a directory route is about: the `:name` in its path, or the name a POST /domains creates. */
function routedDomain(request: RoutedRequest): string | undefined {
  const url = request.routeOptions?.url ?? '';
  if (!url.startsWith('/api/v1/domains')) return undefined;
  const params = request.params as { name?: string } | undefined;
  if (params?.name) return params.name;
  if (request.method === 'POST' && url === '/api/v1/domains') {
    const body = request.body;
    const name = typeof body === 'object' && body !== null && 'name' in body ? body.name : undefined;
    return typeof name === 'string' ? name : undefined;
  }
  return undefined;
}
