import { Module } from '@nestjs/common';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import {
  DIRECTORY_SERVICE,
  DirectoryController,
  DirectoryService,
  HOP_NONCES,
  SITE_ROUTING,
  SiteRuntimeModule,
  SitesUnreachableError,
} from '@dd/admin-api';
import { MemoryNonceStore, signRequest } from '@dd/site-auth';
import { Fake, siteEnv, strictFake, writeSiteConfig } from '@dd/testing';
import type { CachedDomain } from '../cache/cache-plan';
import { SiteCacheStore } from '../cache/site-cache.store';
import { SdcMetrics } from '../ops/sdc.metrics';
import { ProxyForwarder } from '../remote';
import { SiteRouter } from './site-router';

/**
 * SPEC §9 routing at a work site, in the real Nest pipeline (auth guard → routing interceptor →
 * controller → the one exception filter), with strict fakes of the cache store, the forwarder and
 * the directory service: site-a serves acme; globex is served by site-b and site-c; umbrella by site-a
 * and site-c; initech by none.
 */
describe('routing at a work site (SPEC §9)', () => {
  const config = writeSiteConfig({
    sites: [
      { id: 'master', role: 'master', url: 'http://master.test' },
      { id: 'site-a', url: 'http://a.test' },
      { id: 'site-b', url: 'http://b.test' },
      { id: 'site-c', url: 'http://c.test' },
    ],
    zones: [
      { domain: 'acme', sites: ['site-a'] },
      { domain: 'globex', sites: ['site-b', 'site-c'] },
      { domain: 'umbrella', sites: ['site-a', 'site-c'] },
    ],
    admins: [
      { name: 'ops', token: 'ops-token', scope: '*' },
      { name: 'acme-ops', token: 'acme-token', scope: ['acme'] },
    ],
  });
  const env = siteEnv('site-a', config.file);
  const loaded = (name: string, scoped = true): CachedDomain => ({
    domain: { id: `d-${name}`, name, parent: null, settings: {}, version: '1', createdAt: '', updatedAt: '' },
    scoped,
    h: '',
  });

  let app: NestFastifyApplication;
  let store: Fake<SiteCacheStore>;
  let forwarder: Fake<ProxyForwarder>;
  let directory: Fake<DirectoryService>;
  let cached: Map<string, CachedDomain>;
  /** domains with local changes still queued */
  let pending: Set<string>;

  beforeEach(async () => {
    cached = new Map([
      ['acme', loaded('acme')],
      ['master', loaded('master')],
    ]);
    pending = new Set();
    store = strictFake<SiteCacheStore>('SiteCacheStore', {
      domain: async (name) => cached.get(name),
      domainPending: async (name) => pending.has(name),
    });
    forwarder = strictFake<ProxyForwarder>('ProxyForwarder', {
      forward: async (targets) => ({
        status: 200,
        headers: { 'content-type': 'application/json', 'x-served-by': targets[0].id },
        body: { from: targets[0].id },
        servedBy: targets[0].id,
      }),
    });
    directory = strictFake<DirectoryService>('DirectoryService', {
      getDomain: async (_caller, name) => ({ ...loaded(name).domain }),
    });

    @Module({
      providers: [
        SdcMetrics,
        SiteRouter,
        { provide: SiteCacheStore, useValue: store },
        { provide: ProxyForwarder, useValue: forwarder },
        { provide: SITE_ROUTING, useExisting: SiteRouter },
        { provide: HOP_NONCES, useValue: new MemoryNonceStore() },
        { provide: DIRECTORY_SERVICE, useValue: directory },
      ],
      controllers: [DirectoryController],
    })
    class RoutingUnderTest {}

    const moduleRef = await Test.createTestingModule({
      imports: [SiteRuntimeModule.forRoot(env), RoutingUnderTest],
    }).compile();
    app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { rawBody: true });
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  });
  afterEach(() => app.close());

  const call = (method: 'GET' | 'POST' | 'PATCH', url: string, token?: string, body?: object) =>
    app.inject({
      method,
      url: `/api/v1${url}`,
      headers: token ? { authorization: `Bearer ${token}` } : {},
      payload: body,
    });

  it('answers a domain it serves and has loaded here, without forwarding', async () => {
    const reply = await call('GET', '/domains/acme', 'ops-token');
    expect(reply.statusCode).toBe(200);
    expect(reply.json()).toMatchObject({ name: 'acme' });
    expect(directory.getDomain).toHaveBeenCalledTimes(1);
  });

  it('sends a peer’s domain to its serving peers in config order, then the MDC, and returns the answer unchanged', async () => {
    const reply = await call('GET', '/domains/globex', 'ops-token');
    expect(reply.statusCode).toBe(200);
    expect(reply.json()).toEqual({ from: 'site-b' });
    expect(reply.headers['x-served-by']).toBe('site-b');
    const [targets, request, mdcOnly] = forwarder.forward.mock.calls[0];
    expect(targets.map((t: { id: string }) => t.id)).toEqual(['site-b', 'site-c', 'master']);
    expect(request).toMatchObject({ method: 'GET', pathWithQuery: '/api/v1/domains/globex' });
    expect(mdcOnly).toBe(false);
  });

  it('forwards a zone it serves but has not loaded yet, and a domain in no zone goes to the MDC', async () => {
    cached.delete('acme');
    await call('GET', '/domains/acme', 'ops-token');
    await call('GET', '/domains/initech', 'ops-token');
    const targets = forwarder.forward.mock.calls.map(([t]) => t.map((x: { id: string }) => x.id));
    expect(targets).toEqual([['master'], ['master']]);
  });

  it('answers here a domain of its own zone it no longer holds because of its own queued change (a delete made here)', async () => {
    cached.delete('acme');
    pending.add('acme');
    const reply = await call('GET', '/domains/acme', 'ops-token');
    expect(reply.statusCode).toBe(200); // the fake directory's answer: asked here, not forwarded
    expect(directory.getDomain).toHaveBeenCalledTimes(1);
    expect(forwarder.forward).not.toHaveBeenCalled();
  });

  it('sends a domain of its own zone it does not hold to the MDC first, then the peers serving it', async () => {
    // a peer may not have pulled yet a delete this site made and the MDC acknowledged
    await call('GET', '/domains/umbrella', 'ops-token');
    const [targets] = forwarder.forward.mock.calls[0];
    expect(targets.map((t: { id: string }) => t.id)).toEqual(['master', 'site-c']);
  });

  it('reads the master domain from its local copy and sends its writes to the MDC alone', async () => {
    directory.patchDomain = jest.fn();
    expect((await call('GET', '/domains/master', 'ops-token')).statusCode).toBe(200);
    await call('PATCH', '/domains/master', 'ops-token', { settings: { motd: 'hi' } });
    expect(forwarder.forward.mock.calls).toEqual([
      [[{ id: 'master', url: 'http://master.test' }], expect.anything(), true],
    ]);
  });

  it('refuses an unknown token with 401 before routing: nothing is forwarded', async () => {
    const reply = await call('GET', '/domains/globex', 'stolen');
    expect(reply.statusCode).toBe(401);
    expect(reply.json()).toMatchObject({ code: 'unauthorized' });
    expect(forwarder.forward).not.toHaveBeenCalled();
  });

  it('refuses a domain outside the admin’s scope with 403 before routing: nothing is forwarded', async () => {
    const reply = await call('GET', '/domains/globex', 'acme-token');
    expect(reply.statusCode).toBe(403);
    expect(reply.json()).toMatchObject({ code: 'forbidden' });
    const create = await call('POST', '/domains', 'acme-token', { name: 'globex.eu' });
    expect(create.statusCode).toBe(403);
    expect(forwarder.forward).not.toHaveBeenCalled();
    expect(store.domain).not.toHaveBeenCalled();
  });

  it('checks scope once for the site’s own domains too', async () => {
    expect((await call('GET', '/domains/acme', 'acme-token')).statusCode).toBe(200);
    expect((await call('GET', '/domains/master', 'acme-token')).statusCode).toBe(403);
  });

  it('answers 502 site_unreachable naming the sites tried, and 503 mdc_unreachable for a master-domain write', async () => {
    forwarder.forward.mockImplementation(
      async (targets: Array<{ id: string }>, _request: unknown, mdcOnly: boolean) => {
        throw new SitesUnreachableError(
          targets.map((t) => t.id),
          mdcOnly,
        );
      },
    );
    const read = await call('GET', '/domains/globex', 'ops-token');
    expect(read.statusCode).toBe(502);
    expect(read.json()).toMatchObject({ code: 'site_unreachable', tried: ['site-b', 'site-c', 'master'] });
    const write = await call('PATCH', '/domains/master', 'ops-token', { settings: {} });
    expect(write.statusCode).toBe(503);
    expect(write.json()).toMatchObject({ code: 'mdc_unreachable' });
  });

  describe('a proxied request (at most one hop)', () => {
    const hop = (
      path: string,
      signAs: string,
      proxiedBy = signAs,
      token = 'ops-token',
      receiver = 'site-a',
    ) =>
      app.inject({
        method: 'GET',
        url: path,
        headers: {
          authorization: `Bearer ${token}`,
          'x-proxied-by': proxiedBy,
          ...signRequest({
            siteId: signAs,
            receiver,
            privateKey: config.privateKey(signAs),
            method: 'GET',
            path,
          }),
        },
      });

    it('answers a signed hop for a domain it serves', async () => {
      expect((await hop('/api/v1/domains/acme', 'site-b')).statusCode).toBe(200);
    });

    it('answers 421 to a signed hop for a domain it does not serve, never forwarding it again', async () => {
      const reply = await hop('/api/v1/domains/globex', 'site-b');
      expect(reply.statusCode).toBe(421);
      expect(reply.json()).toMatchObject({ code: 'misdirected' });
      expect(forwarder.forward).not.toHaveBeenCalled();
    });

    it('refuses a hop whose x-proxied-by is not the signing site, and an unsigned one, with 401', async () => {
      expect((await hop('/api/v1/domains/acme', 'site-b', 'site-c')).statusCode).toBe(401);
      const unsigned = await app.inject({
        method: 'GET',
        url: '/api/v1/domains/acme',
        headers: { authorization: 'Bearer ops-token', 'x-proxied-by': 'site-b' },
      });
      expect(unsigned.statusCode).toBe(401);
      expect(directory.getDomain).not.toHaveBeenCalled();
    });

    it('refuses with 401 a hop signed for another site (site-c), as a captured call replayed here', async () => {
      const reply = await hop('/api/v1/domains/acme', 'site-b', 'site-b', 'ops-token', 'site-c');
      expect(reply.statusCode).toBe(401);
      expect(reply.json()).toMatchObject({ code: 'unauthorized' });
      expect(directory.getDomain).not.toHaveBeenCalled();
    });

    it('enforces the caller’s scope at the answering site too', async () => {
      const reply = await hop('/api/v1/domains/master', 'site-b', 'site-b', 'acme-token');
      expect(reply.statusCode).toBe(403);
    });
  });
});
