import type { KeyObject } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { NonceStore, verifySiteRequest } from '@dd/site-auth';
import { ApiError } from './errors';
import { HEADER } from './headers';

/**
 * SPEC §9: a proxied request is a site-to-site call: signed by the forwarding site. Returns the
 * forwarding site's id, undefined for a request that did not come through a proxy hop.
 */
export async function verifyProxyHop(
  request: FastifyRequest & { rawBody?: Buffer },
  publicKeysOf: (site: string) => KeyObject[] | undefined,
  nonces: NonceStore,
): Promise<string | undefined> {
  if (request.headers[HEADER.proxiedBy] === undefined) return undefined;
  const result = await verifySiteRequest({
    headers: request.headers,
    method: request.method,
    path: request.url,
    body: request.rawBody,
    publicKeysOf,
    nonces,
  });
  if (!result.ok) throw new ApiError('unauthorized', `proxied call refused: ${result.reason}`);
  if (result.siteId !== request.headers[HEADER.proxiedBy]) {
    throw new ApiError('unauthorized', 'proxied call refused: x-proxied-by is not the signing site');
  }
  return result.siteId;
}

/** The domain a directory route is about: the `:name` in its path, or the name a POST /domains creates. */
export function routedDomain(request: FastifyRequest): string | undefined {
  const url = request.routeOptions?.url ?? '';
  if (!url.startsWith('/api/v1/domains')) return undefined;
  const params = request.params as { name?: string } | undefined;
  if (params?.name) return params.name;
  if (request.method === 'POST' && url === '/api/v1/domains') {
    const name = (request.body as { name?: unknown } | undefined)?.name;
    return typeof name === 'string' ? name : undefined;
  }
  return undefined;
}
