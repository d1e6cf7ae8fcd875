import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { DynamicModule, Logger as NestLogger, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import fastifyRateLimit from '@fastify/rate-limit';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { SwaggerModule } from '@nestjs/swagger';
import type { Logger as Pino } from 'pino';
import { BodyValidationPipe } from './body-validation.pipe';
import { HEADER } from './headers';
import { acceptJsonBodiesOnly } from './json-body';
import { discardRestOfBody } from './lingering-close';
import { openApiDocument } from './openapi';
import { clientErrorRecorder, recordTraffic } from './traffic-recorder';
import { requestIdOf } from './site-runtime.module';
import { readSiteEnv, SiteEnv } from './site-env';
import { createSiteLogger, logRequests, SiteLogger } from './site-logger';
import { clientErrorBody, toErrorResponse } from './exception.filter';

/** SPEC §9: request bodies over 1 MiB get 413. */
export const BODY_LIMIT_BYTES = 1024 * 1024;

/**
 * SPEC §3: every valid name fits in a path parameter, percent-encoded: an entity name of 255 code
 * points of up to 4 UTF-8 bytes, each byte written `%XX` (Fastify's default, 100, cut names short).
 */
export const MAX_PARAM_LENGTH = 255 * 4 * 3;

/** How often Node looks for requests past their time (its default, 30 s, would stretch a short timeout). */
const TIMEOUT_CHECK_MS = 1000;

/**
 * SPEC §5: a request Node's HTTP layer refuses before Fastify sees it (unknown method, bad
 * Content-Length, headers too large, too slow to arrive) is answered in the spec's shape too.
 */
function answerClientError(
  siteId: string,
  record?: (status: number, headers: Record<string, string>, body: string) => void,
) {
  return (error: Error & { code?: string }, socket: Socket): void => {
    // A reset connection has no one left to answer.
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    // As Node does: never write into an answer that has already begun.
    const answering = (socket as Socket & { _httpMessage?: { headersSent: boolean } })._httpMessage;
    if (socket.writable && !answering?.headersSent) {
      const answer = clientErrorBody(error);
      const body = JSON.stringify(answer);
      const headers: Record<string, string> = {
        'content-type': 'application/json; charset=utf-8',
        'content-length': String(Buffer.byteLength(body)),
        [HEADER.servedBy]: siteId,
        connection: 'close',
      };
      const head = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
      socket.write(
        `HTTP/1.1 ${answer.statusCode} ${STATUS_CODES[answer.statusCode]}\r\n${head.join('')}\r\n${body}`,
      );
      // DD_TRAFFIC_DIR: this answer passes no Fastify hook, so it is recorded here, as written.
      record?.(answer.statusCode, headers, body);
    }
    socket.destroy(error);
  };
}

const frameworkLog = new NestLogger('HttpErrors');

/**
 * SPEC §5: what Fastify's router refuses before any hook or handler runs (a bad `%` escape, a path
 * parameter too long) is answered in the spec's shape too. (Every later error reaches the one
 * exception filter: Nest installs it as Fastify's error handler.)
 */
function answerRouterError(siteId: string) {
  return async (error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const { body, headers } = toErrorResponse(error, frameworkLog);
    await discardRestOfBody(request.raw);
    reply.headers({ ...headers, [HEADER.servedBy]: siteId, [HEADER.requestId]: String(request.id) });
    return reply.status(body.statusCode).send(body);
  };
}

/** Builds a site's HTTP app on Fastify (SPEC §2) with the pieces every site shares. */
export async function createSiteApp(
  module: Type<unknown> | DynamicModule,
  title: string,
  env: SiteEnv = readSiteEnv(),
  logger: Pino = createSiteLogger(env.siteId, env.logLevel),
): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    bodyLimit: BODY_LIMIT_BYTES,
    genReqId: requestIdOf,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // SPEC §5: the whole request, body included, must arrive in time (a body sent a byte at a time too).
    requestTimeout: env.requestTimeoutMs,
    http: {
      requestTimeout: env.requestTimeoutMs,
      headersTimeout: env.requestTimeoutMs,
      connectionsCheckingInterval: Math.min(TIMEOUT_CHECK_MS, env.requestTimeoutMs),
    },
    clientErrorHandler: answerClientError(env.siteId, clientErrorRecorder(env.trafficDir, title, env.siteId)),
    frameworkErrors: answerRouterError(env.siteId),
  });
  // The JSON parser is this app's own (json-body.ts), so Nest's body parsers stay out.
  // SPEC §10: Nest logs through the site logger from its first line (nothing buffered for a text logger).
  const app = await NestFactory.create<NestFastifyApplication>(module, adapter, {
    bodyParser: false,
    logger: new SiteLogger(logger),
  });
  app.useGlobalPipes(new BodyValidationPipe());
  const fastify = app.getHttpAdapter().getInstance();
  logRequests(fastify, logger);
  acceptJsonBodiesOnly(fastify, BODY_LIMIT_BYTES);
  // SPEC §5: the counter `AdminRateLimitGuard` uses, per admin, after authentication — no route hook of its own.
  await app.register(fastifyRateLimit, { global: false });
  // SPEC §5: every response names the site that answered from its own data; a proxied answer keeps the peer's.
  // Callback-style hooks, not async ones: an async hook costs every response a promise and a tick.
  fastify.addHook('onSend', (request, reply, payload, done) => {
    if (!reply.hasHeader(HEADER.servedBy)) reply.header(HEADER.servedBy, env.siteId);
    reply.header(HEADER.requestId, String(request.id));
    done(null, payload);
  });
  const document = openApiDocument(app, title);
  SwaggerModule.setup('docs', app, document);
  if (env.trafficDir) recordTraffic(fastify, env.trafficDir, document.info.title, env.siteId);
  return app;
}
