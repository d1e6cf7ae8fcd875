import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify, { FastifyInstance } from 'fastify';
import { createSiteLogger, logRequests, SiteLogger } from './site-logger';

/** A site logger writing into an array: each entry one line, parsed. */
function capture(level = 'trace') {
  const lines: string[] = [];
  const pino = createSiteLogger('site-a', level, { write: (line: string) => void lines.push(line) });
  return { pino, lines, parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('the site logger (SPEC §10)', () => {
  it('writes one JSON line per call, each naming the site', () => {
    const { pino, lines, parsed } = capture();
    const nest = new SiteLogger(pino);
    nest.log('Nest application successfully started', 'NestApplication');
    pino.info({ cycle: 3 }, 'cycle done');
    expect(lines.every((l) => l.endsWith('\n') && l.trimEnd().split('\n').length === 1)).toBe(true);
    expect(parsed()).toEqual([
      expect.objectContaining({
        site: 'site-a',
        level: 30,
        context: 'NestApplication',
        msg: 'Nest application successfully started',
      }),
      expect.objectContaining({ site: 'site-a', cycle: 3, msg: 'cycle done' }),
    ]);
  });

  it("keeps Nest's calling conventions: context last, fields, an Error, a stack", () => {
    const { pino, parsed } = capture();
    const nest = new SiteLogger(pino);
    nest.error({ errorId: 'e1', err: new Error('boom') }, 'unhandled error e1', 'ApiExceptionFilter');
    nest.error(new Error('config refused'), 'ExceptionHandler');
    nest.error('shutdown failed', 'Error: x\n    at f (a.js:1:1)', 'NestApplicationContext');
    nest.warn('no context');
    nest.verbose('quiet', 'X');
    const [fields, error, stack, plain, verbose] = parsed();
    expect(fields).toMatchObject({
      level: 50,
      context: 'ApiExceptionFilter',
      errorId: 'e1',
      msg: 'unhandled error e1',
    });
    expect(fields.err).toMatchObject({ message: 'boom', type: 'Error' });
    expect(error).toMatchObject({ context: 'ExceptionHandler', err: { message: 'config refused' } });
    expect(stack).toMatchObject({ msg: 'shutdown failed', err: { stack: 'Error: x\n    at f (a.js:1:1)' } });
    expect(plain).toMatchObject({ level: 40, msg: 'no context' });
    expect(plain).not.toHaveProperty('context');
    expect(verbose).toMatchObject({ level: 10, msg: 'quiet' });
  });

  it('writes nothing below its level', () => {
    const { pino, lines } = capture('warn');
    new SiteLogger(pino).log('not shown', 'X');
    pino.info('nor this');
    expect(lines).toEqual([]);
  });
});

describe('logRequests (SPEC §10)', () => {
  let fastify: FastifyInstance;
  afterEach(() => fastify.close());

  async function appWith(pino: ReturnType<typeof capture>['pino']) {
    fastify = Fastify({ genReqId: () => `req-${Math.random().toString(36).slice(2)}` });
    logRequests(fastify, pino);
    const nest = new SiteLogger(pino);
    fastify.post('/api/v1/domains/:name', async (request) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      nest.warn(`writing ${(request.params as { name: string }).name}`, 'Handler');
      return { ok: true };
    });
    fastify.get('/health/live', async () => ({ ok: true }));
    await fastify.ready();
  }

  it('puts the request id on every line written for the request, and ends it with one line', async () => {
    const { pino, parsed } = capture('info');
    await appWith(pino);
    // over a socket, the body's end arriving later: it is read in the connection's async context
    await fastify.listen({ port: 0, host: '127.0.0.1' });
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          port: (fastify.server.address() as AddressInfo).port,
          host: '127.0.0.1',
          method: 'POST',
          path: '/api/v1/domains/acme?x=1',
          headers: { 'content-type': 'application/json', 'content-length': 7 },
        },
        (res) => res.resume().on('end', () => resolve(res.statusCode!)),
      );
      req.on('error', reject);
      req.write('{"a":');
      setTimeout(() => req.end('1}'), 50);
    });
    expect(status).toBe(200);
    await new Promise((resolve) => setImmediate(resolve));
    pino.info('after the request');
    const [inside, done, after] = parsed();
    expect(inside).toMatchObject({ site: 'site-a', context: 'Handler', msg: 'writing acme' });
    expect(inside.reqId).toMatch(/^req-/);
    expect(done).toMatchObject({
      site: 'site-a',
      reqId: inside.reqId,
      msg: 'request completed',
      method: 'POST',
      route: '/api/v1/domains/:name',
      url: '/api/v1/domains/acme?x=1',
      statusCode: 200,
    });
    expect(typeof done.responseTimeMs).toBe('number');
    expect(after).not.toHaveProperty('reqId');
  });

  it('writes no line for the health probes, and a null route for an unknown path', async () => {
    const { pino, parsed } = capture('info');
    await appWith(pino);
    expect((await fastify.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);
    expect((await fastify.inject({ method: 'GET', url: '/nowhere' })).statusCode).toBe(404);
    expect(parsed()).toEqual([expect.objectContaining({ url: '/nowhere', route: null, statusCode: 404 })]);
  });
});
