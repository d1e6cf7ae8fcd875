import { Injectable, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ClusterConfigService, toErrorResponse, verifyProxyHop } from '@dd/admin-api';
import { PgNonceStore } from './pg-nonce.store';

/**
 * SPEC §9 at the MDC: a request a site proxied here must carry that site's signature. The MDC holds
 * every domain, so it answers any proxied request itself (it never proxies).
 */
@Injectable()
export class ProxyHopCheck {
  private readonly logger = new Logger('ProxyHopCheck');

  constructor(
    private readonly config: ClusterConfigService,
    private readonly nonces: PgNonceStore,
  ) {}

  async handle(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    try {
      await verifyProxyHop(request, (site) => this.config.publicKeysOf(site), this.nonces);
      return undefined;
    } catch (err) {
      const { body, headers } = toErrorResponse(err, this.logger);
      return reply.status(body.statusCode).headers(headers).send(body);
    }
  }
}
