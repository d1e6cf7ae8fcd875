import { CanActivate, createParamDecorator, ExecutionContext, Injectable, Logger } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { ApiError, ClusterConfigService } from '@dd/admin-api';
import { PgNonceStore } from './pg-nonce.store';

export type SiteRequest = FastifyRequest & { rawBody?: Buffer; site?: string };

/**
 * SPEC §9: site-to-site calls are signed for the MDC; unsigned, forged, replayed or stale ones, and
 * ones signed for another site, get 401.
 */
@Injectable()
export class SiteCallGuard implements CanActivate {
  private readonly logger = new Logger('SiteCallGuard');

  constructor(
    private readonly config: ClusterConfigService,
    private readonly nonces: PgNonceStore,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<SiteRequest>();
    const result = await this.config.verifySiteCall(request, this.nonces.forSiteCalls);
    if (!result.ok) {
      this.logger.warn(`refused site call ${request.method} ${request.url}: ${result.reason}`);
      throw new ApiError('unauthorized', `site call refused: ${result.reason}`);
    }
    request.site = result.siteId;
    return true;
  }
}

/** The site a SiteCallGuard verified the call as (SPEC §9: a site acts only as itself). */
export const CallingSite = createParamDecorator((_: unknown, context: ExecutionContext): string => {
  const { site } = context.switchToHttp().getRequest<SiteRequest>();
  if (!site) throw new ApiError('unauthorized', 'the site call was not verified');
  return site;
});
