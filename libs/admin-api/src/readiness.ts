import { ServiceUnavailableException } from '@nestjs/common';
import type { HealthCheckResult, HealthCheckService, HealthIndicatorFunction } from '@nestjs/terminus';
import { StoreUnavailableError } from './errors';

/**
 * SPEC §10 `/health/ready`: terminus's answer while every check is up; otherwise SPEC §5's 503
 * `store_unavailable` (with Retry-After), its message naming each failing check and why.
 */
export async function checkReady(
  health: HealthCheckService,
  checks: HealthIndicatorFunction[],
): Promise<HealthCheckResult> {
  try {
    return await health.check(checks);
  } catch (err) {
    if (!(err instanceof ServiceUnavailableException)) throw err;
    const { error = {} } = err.getResponse() as HealthCheckResult;
    const failing = Object.entries(error).map(([name, detail]) =>
      typeof detail?.message === 'string' ? `${name} is down (${detail.message})` : `${name} is down`,
    );
    throw new StoreUnavailableError(failing.join('; '));
  }
}
