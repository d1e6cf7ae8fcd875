// The reference the request-path rows compare against (bench/http-load.ts `bareReference`): a bare
// NestJS 12 + Fastify app with one GET route, nothing else. Plain ESM without decorator syntax, as
// NestJS 12 is ESM-only and the bench is not compiled. Prints `listening <port>` once it listens.
/* global process, console */
import 'reflect-metadata';
import { Controller, Get, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';

class LiveController {
  live() {
    return { status: 'ok' };
  }
}
Reflect.decorate([Controller('health')], LiveController);
Reflect.decorate(
  [Get('live')],
  LiveController.prototype,
  'live',
  Object.getOwnPropertyDescriptor(LiveController.prototype, 'live'),
);

class BareModule {}
Reflect.decorate([Module({ controllers: [LiveController] })], BareModule);

const app = await NestFactory.create(BareModule, new FastifyAdapter(), { logger: ['error', 'warn'] });
await app.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
console.log(`listening ${app.getHttpServer().address().port}`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
