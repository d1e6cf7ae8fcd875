import type {} from '@fastify/rate-limit';
import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import type { ClusterConfig, RateLimitConfig } from '@dd/cluster-config';
import type { AdminRequest } from './auth';
import { ClusterConfigService } from './cluster-config.service';
import { ApiError } from './errors';

/** SPEC §5: an admin's own limit, else the one of every token (`cluster.rateLimit`); none: no limit. */
export function rateLimitOf(config: ClusterConfig, admin: string): RateLimitConfig | undefined {
  return config.admins.find((a) => a.name === admin)?.rateLimit ?? config.cluster.rateLimit;
}

type Limiter = ReturnType<FastifyInstance['createRateLimit']>;
const NO_LIMIT: RateLimitConfig = { max: Number.MAX_SAFE_INTEGER, windowMs: 1000 };

/**
 * SPEC §5: requests are counted per admin token — by the admin it names, never by address — and
 * past the config's limit answered 429 `rate_limited` with `Retry-After`. Runs after
 * `AdminAuthGuard` (a request's admin is known, an unknown token already got its 401) and reads
 * the limit from the config in force, so a reload takes effect at the next request. Counted by
 * `@fastify/rate-limit`'s store, in this process: each site, and each replica, counts its own.
 */
@Injectable()
export class AdminRateLimitGuard implements CanActivate {
  private limiter: Limiter | undefined;

  constructor(
    private readonly config: ClusterConfigService,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<AdminRequest>();
    if (!request.admin) return true; // a public route: no admin to count
    const limit = rateLimitOf(this.config.current, request.admin.name);
    if (!limit) return true;
    const counted = await this.limit()(request);
    if (counted.isAllowed || !counted.isExceeded) return true;
    throw new ApiError(
      'rate_limited',
      `admin ${request.admin.name} sent more than ${limit.max} requests in ${limit.windowMs} ms`,
      {},
      { 'retry-after': String(Math.max(1, counted.ttlInSeconds)) },
    );
  }

  /** The counter, made on first use (the plugin is registered by `createSiteApp`), keyed by admin name. */
  private limit(): Limiter {
    // Only asked about admins that have a limit (see canActivate); the fallback never counts.
    const limitOf = (admin: string) => rateLimitOf(this.config.current, admin) ?? NO_LIMIT;
    this.limiter ??= this.adapterHost.httpAdapter.getInstance<FastifyInstance>().createRateLimit({
      keyGenerator: (req) => (req as AdminRequest).admin?.name ?? '',
      max: (_req, admin) => limitOf(admin).max,
      timeWindow: (_req, admin) => limitOf(admin).windowMs,
    });
    return this.limiter;
  }
}
