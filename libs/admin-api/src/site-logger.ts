import { AsyncLocalStorage } from 'node:async_hooks';
import { hostname } from 'node:os';
import type { LoggerService } from '@nestjs/common';
import type { FastifyInstance } from 'fastify';
import pino, { DestinationStream, Level, Logger as Pino } from 'pino';
import { messageOf } from './errors';
import { HEADER } from './headers';

/** The request a line is written for: entered by `logRequests` (SPEC §10: its id on every line). */
const requestContext = new AsyncLocalStorage<{ readonly id: string }>();

/**
 * SPEC §10: the process's one logger — JSON lines only, each naming the site that wrote it and,
 * while a request is handled, the request's id (the one that follows it across a proxy hop).
 */
export function createSiteLogger(
  site: string | null,
  level = 'info',
  destination: DestinationStream = pino.destination({ dest: 1, sync: true }),
): Pino {
  return pino(
    {
      level,
      base: { site, pid: process.pid, hostname: hostname() },
      mixin: () => {
        const request = requestContext.getStore();
        return request ? { reqId: request.id } : {};
      },
    },
    destination,
  );
}

/**
 * Nest's `LoggerService` over the site logger, so Nest's own lines and every `new Logger(context)`
 * are JSON lines too. Nest passes the context last; an object or an Error as the message becomes
 * fields (`err` for an Error); Nest's exception handlers pass a stack as the second argument.
 */
export class SiteLogger implements LoggerService {
  constructor(readonly pino: Pino) {}

  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }
  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }
  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  private write(level: Level, message: unknown, params: unknown[]): void {
    if (!this.pino.isLevelEnabled(level)) return;
    const fields: Record<string, unknown> = {};
    const rest = params.length > 0 ? params.slice(0, -1) : [];
    if (params.length > 0 && params[params.length - 1] !== undefined)
      fields.context = params[params.length - 1];
    if (message instanceof Error) fields.err = message;
    else if (typeof message === 'object' && message !== null) Object.assign(fields, message);
    else if (level === 'error' && typeof rest[0] === 'string' && /\n\s*at /.test(rest[0])) {
      // Nest's `error(message, stack, context)`
      const err = new Error(String(message));
      err.stack = rest[0];
      this.pino.error({ ...fields, err }, String(message));
      return;
    }
    const text = typeof message === 'string' ? message : typeof rest[0] === 'string' ? rest[0] : undefined;
    if (text === undefined) this.pino[level](fields);
    else this.pino[level](fields, text);
  }
}

/**
 * SPEC §10: every line written while a request is handled carries its id, and each request (but
 * the health probes) ends in one line: method, route (its template), status and time.
 * (nestjs-pino's way — a Nest middleware — is never reached under NestJS 12's Fastify adapter.)
 */
export function logRequests(fastify: FastifyInstance, logger: Pino): void {
  // Only the id: a timer or socket made while a request is handled must not keep the request (its body) alive.
  fastify.addHook('onRequest', (request, _reply, done) =>
    requestContext.run({ id: String(request.id) }, done),
  );
  // Callback-style hooks, not async ones: an async hook costs every response a promise and a tick.
  fastify.addHook('onResponse', (request, reply, done) => {
    if (request.url.startsWith('/health')) return done();
    logger.info(
      {
        reqId: request.id,
        context: 'HTTP',
        method: request.method,
        route: request.routeOptions.url ?? null,
        url: request.url,
        statusCode: reply.statusCode,
        responseTimeMs: Math.round(reply.elapsedTime),
        proxiedBy: request.headers[HEADER.proxiedBy],
      },
      'request completed',
    );
    done();
  });
}

/**
 * SPEC §10: no line that is not JSON — the process's warnings (Node prints them as text by default)
 * and an error nothing caught go to the site logger; an uncaught one still ends the process.
 */
export function logProcessEvents(logger: Pino): void {
  process.removeAllListeners('warning');
  process.on('warning', (warning) => logger.warn({ err: warning, context: 'process' }, warning.message));
  process.on('uncaughtException', (err, origin) => {
    logger.fatal({ err, origin, context: 'process' }, `uncaught: ${messageOf(err)}`);
    process.exit(1);
  });
}
