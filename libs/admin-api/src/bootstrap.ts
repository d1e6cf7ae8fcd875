import { DynamicModule, INestApplication, Type, ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger, PinoLogger } from 'nestjs-pino';
import { HEADER } from './headers';
import { requestIdOf } from './site-runtime.module';
import { SITE_ENV, SiteEnv } from './site-env';
import { toErrorResponse } from './exception.filter';

/** SPEC §9: request bodies over 1 MiB get 413. */
export const BODY_LIMIT_BYTES = 1024 * 1024;

/** Builds a site's HTTP app on Fastify (SPEC §2) with the pieces every site shares. */
export async function createSiteApp(
  module: Type<unknown> | DynamicModule,
  title: string,
): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({ bodyLimit: BODY_LIMIT_BYTES, genReqId: requestIdOf });
  const app = await NestFactory.create<NestFastifyApplication>(module, adapter, {
    rawBody: true,
    bufferLogs: true,
  });
  const logger = app.get(Logger);
  app.useLogger(logger);
  app.useGlobalPipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: false }));
  const env = app.get<SiteEnv>(SITE_ENV);
  const fastify = app.getHttpAdapter().getInstance();
  // SPEC §5: every response names the site that answered from its own data; a proxied answer keeps the peer's.
  fastify.addHook('onSend', async (request, reply) => {
    if (!reply.hasHeader(HEADER.servedBy)) reply.header(HEADER.servedBy, env.siteId);
    reply.header(HEADER.requestId, String(request.id));
  });
  // SPEC §10: one structured line per request, under the request id that follows it across a proxy hop
  // (pino-http's middleware is never reached under NestJS 12's Fastify adapter, so log from Fastify).
  const requests = await app.resolve(PinoLogger);
  requests.setContext('HTTP');
  fastify.addHook('onResponse', async (request, reply) => {
    if (request.url.startsWith('/health')) return;
    requests.info(
      {
        reqId: request.id,
        method: request.method,
        url: request.url,
        statusCode: reply.statusCode,
        responseTimeMs: Math.round(reply.elapsedTime),
        proxiedBy: request.headers[HEADER.proxiedBy],
      },
      'request completed',
    );
  });
  // Errors Fastify raises before a handler runs (body too large, bad JSON) get the spec's shape too.
  fastify.setErrorHandler((error, _request, reply) => {
    const { body, headers } = toErrorResponse(error, {
      error: (message: unknown, ...rest: unknown[]) => logger.error(message, ...rest),
    });
    void reply.status(body.statusCode).headers(headers).send(body);
  });
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder().setTitle(title).setVersion('1').addBearerAuth().build(),
  );
  SwaggerModule.setup('docs', app, document);
  // SIGHUP reloads the cluster config (SPEC §4): it must not be taken for a shutdown.
  app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
  return app;
}

export async function listen(app: INestApplication, port: number): Promise<void> {
  await app.listen(port, process.env.HOST ?? '0.0.0.0');
}
