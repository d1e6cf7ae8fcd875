import fastifyRateLimit from '@fastify/rate-limit';
import type { ExecutionContext } from '@nestjs/common';
import type { HttpAdapterHost } from '@nestjs/core';
import Fastify, { type FastifyInstance } from 'fastify';
import { CLUSTER_DEFAULTS, type ClusterConfig, type RateLimitConfig } from '@dd/cluster-config';
import type { ClusterConfigService } from './cluster-config.service';
import { ApiError } from './errors';
import { AdminRateLimitGuard, rateLimitOf } from './rate-limit';

function config(cluster?: RateLimitConfig, own: Record<string, RateLimitConfig> = {}): ClusterConfig {
  return {
    cluster: { ...CLUSTER_DEFAULTS, ...(cluster ? { rateLimit: cluster } : {}) },
    masterDomain: 'master',
    sites: [],
    zones: [],
    admins: ['ops', 'ci', 'alice'].map((name) => ({
      name,
      tokenSha256: '0'.repeat(64),
      scope: '*' as const,
      ...(own[name] ? { rateLimit: own[name] } : {}),
    })),
  };
}

/** A request as the guard sees it after AdminAuthGuard: every one from the same address. */
function call(admin: string | undefined): ExecutionContext {
  const request = {
    ip: '127.0.0.1',
    routeOptions: { config: {} },
    admin: admin && { name: admin, scope: '*' },
  };
  return { switchToHttp: () => ({ getRequest: () => request }) } as unknown as ExecutionContext;
}

describe('AdminRateLimitGuard: requests counted per admin token, limits from the config in force (SPEC §5)', () => {
  let fastify: FastifyInstance;
  let current: ClusterConfig;
  let guard: AdminRateLimitGuard;

  beforeEach(async () => {
    fastify = Fastify();
    await fastify.register(fastifyRateLimit, { global: false });
    await fastify.ready();
    current = config();
    const configService = {
      get current() {
        return current;
      },
    } as unknown as ClusterConfigService;
    const adapterHost = { httpAdapter: { getInstance: () => fastify } } as unknown as HttpAdapterHost;
    guard = new AdminRateLimitGuard(configService, adapterHost);
  });
  afterEach(() => fastify.close());

  /** The answers to `n` calls by `admin`: 'ok', or the 429's Retry-After. */
  async function calls(admin: string | undefined, n: number): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      try {
        out.push((await guard.canActivate(call(admin))) ? 'ok' : 'refused');
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        expect({ status: err.status, code: err.code }).toEqual({ status: 429, code: 'rate_limited' });
        out.push(`retry-after ${err.headers['retry-after']}`);
      }
    }
    return out;
  }

  it('limits nobody when the config names no limit', async () => {
    expect(await calls('ops', 50)).toEqual(Array(50).fill('ok'));
  });

  it('answers 429 rate_limited with Retry-After past cluster.rateLimit, per admin, not per address', async () => {
    current = config({ max: 2, windowMs: 60_000 });
    expect(await calls('ops', 3)).toEqual(['ok', 'ok', 'retry-after 60']);
    expect(await calls('ci', 2)).toEqual(['ok', 'ok']);
    expect(await calls(undefined, 5)).toEqual(Array(5).fill('ok'));
  });

  it('takes an admin’s own limit in place of the cluster’s', async () => {
    current = config({ max: 1, windowMs: 60_000 }, { ci: { max: 3, windowMs: 10_000 } });
    expect(await calls('ci', 4)).toEqual(['ok', 'ok', 'ok', 'retry-after 10']);
    expect(await calls('alice', 2)).toEqual(['ok', 'retry-after 60']);
    expect(rateLimitOf(current, 'ops')).toEqual({ max: 1, windowMs: 60_000 });
  });

  it('follows a reload at the next request: a raised limit, a lifted one', async () => {
    current = config({ max: 1, windowMs: 60_000 });
    expect(await calls('ops', 2)).toEqual(['ok', 'retry-after 60']);
    current = config({ max: 5, windowMs: 60_000 });
    expect(await calls('ops', 1)).toEqual(['ok']);
    current = config();
    expect(await calls('ops', 10)).toEqual(Array(10).fill('ok'));
  });

  it('opens a new window once the old one is over', async () => {
    current = config({ max: 1, windowMs: 50 });
    expect(await calls('ops', 2)).toEqual(['ok', 'retry-after 1']);
    await new Promise((r) => setTimeout(r, 80));
    expect(await calls('ops', 1)).toEqual(['ok']);
  });
});
