import { Injectable, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ClusterConfig, masterSite, servingSites, siteServes } from '@dd/cluster-config';
import { ApiError, routedDomain, toErrorResponse, verifyProxyHop } from '@dd/admin-api';
import { AllSitesUnreachableError } from '../remote';
import { SiteCore } from '../site/site-core';
import { SdcMetrics } from '../ops/sdc.metrics';
import { RedisNonceStore } from './redis-nonce.store';

type Route =
  { local: true } | { local: false; targets: Array<{ id: string; url: string }>; masterOnly: boolean };

/**
 * SPEC §9 at a work site, before any handler runs: a request for a domain the site serves is
 * answered here; any other goes to a site that serves it — peers in config order, then the MDC —
 * and the answer comes back unchanged. A proxied request is never proxied again.
 */
@Injectable()
export class SiteRouter {
  private readonly logger = new Logger('SiteRouter');
  private readonly nonces: RedisNonceStore;

  constructor(
    private readonly core: SiteCore,
    private readonly metrics: SdcMetrics,
  ) {
    this.nonces = new RedisNonceStore(core.redis, core.store.keys.prefix);
  }

  /** A Fastify preHandler: answers (proxied or refused) or lets the request through to its handler. */
  async handle(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    try {
      const hop = await verifyProxyHop(request, (site) => this.core.config.publicKeysOf(site), this.nonces);
      const name = routedDomain(request);
      if (name === undefined) return undefined;
      const route = await this.route(name, request.method, request.routeOptions?.url ?? '');
      if (route.local) return undefined;
      // SPEC §9: at most one hop; the site that got a proxied request it does not serve says so.
      if (hop) throw new ApiError('misdirected', `site ${this.core.env.siteId} does not serve ${name}`);
      await this.forward(request, reply, route);
    } catch (err) {
      const { body, headers } = toErrorResponse(err, this.logger);
      await reply.status(body.statusCode).headers(headers).send(body);
    }
    // Fastify: an async hook that answered returns the reply, so no handler runs after it.
    return reply;
  }

  private async route(name: string, method: string, url: string): Promise<Route> {
    const config = this.core.config.current;
    const self = this.core.env.siteId;
    const master = masterSite(config);
    if (name === config.masterDomain) {
      // SPEC §8: the master domain is read locally from its read-only copy; writes go to the MDC.
      if (method === 'GET' && (await this.core.store.domain(name))?.scoped) return { local: true };
      return { local: false, targets: [{ id: master.id, url: master.url }], masterOnly: true };
    }
    if (siteServes(config, self, name)) {
      const creating = method === 'POST' && url === '/api/v1/domains';
      if (creating || (await this.core.store.domain(name))?.scoped) return { local: true };
    }
    return { local: false, targets: this.targets(config, name, self), masterOnly: false };
  }

  /** The sites serving `name` other than this one, in config order, then the MDC (which holds every domain). */
  private targets(config: ClusterConfig, name: string, self: string) {
    const serving = new Set(servingSites(config, name));
    const peers = config.sites.filter((s) => s.id !== self && s.role !== 'master' && serving.has(s.id));
    const master = masterSite(config);
    return [...peers, master].map((s) => ({ id: s.id, url: s.url }));
  }

  private async forward(request: FastifyRequest, reply: FastifyReply, route: Route & { local: false }) {
    const timer = this.metrics.proxyLatency.startTimer();
    try {
      const answer = await this.core.proxy.forward(route.targets, {
        method: request.method,
        pathWithQuery: request.url,
        headers: request.headers,
        body: request.body,
      });
      this.metrics.proxyCalls.inc({ target: answer.servedBy, outcome: String(answer.status) });
      await reply
        .status(answer.status)
        .headers(answer.headers)
        .send(answer.status === 204 ? undefined : answer.body);
    } catch (err) {
      if (!(err instanceof AllSitesUnreachableError)) throw err;
      this.metrics.proxyCalls.inc({ target: err.tried.join(','), outcome: 'unreachable' });
      if (route.masterOnly)
        throw new ApiError('mdc_unreachable', 'the MDC cannot be reached; master-domain writes wait for it');
      throw new ApiError(
        'site_unreachable',
        `no site serving this domain answered (tried ${err.tried.join(', ')})`,
        {
          tried: err.tried,
        },
      );
    } finally {
      timer();
    }
  }
}
