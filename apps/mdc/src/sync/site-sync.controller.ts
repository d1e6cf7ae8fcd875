import { Body, Controller, Get, HttpCode, Post, Req, Res, UseGuards, UseInterceptors } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ClusterConfigService, Public, RoutingInterceptor } from '@dd/admin-api';
import {
  parseManifestRequest,
  parsePullRequest,
  parsePushRequest,
  parseSnapshotRequest,
  type SignalEvent,
  SYNC_PATHS,
} from '@dd/sync-protocol';
import { ChangeSignalService } from './change-signal.service';
import { PushService } from './push.service';
import { CallingSite, SiteCallGuard, SiteRequest } from './site-call.guard';
import { SiteFeedService } from './site-feed.service';
import { inSiteScope } from './site-scope';

const KEEPALIVE_MS = 15_000;

/**
 * SPEC §7, §8: the calls sites make to the MDC, each signed by the calling site (SPEC §9). A body
 * the protocol refuses throws ProtocolError, which the exception filter answers as 400.
 */
@ApiExcludeController()
@Public()
@UseGuards(SiteCallGuard)
@UseInterceptors(RoutingInterceptor)
@Controller()
export class SiteSyncController {
  constructor(
    private readonly pushes: PushService,
    private readonly feed: SiteFeedService,
    private readonly signal: ChangeSignalService,
    private readonly config: ClusterConfigService,
  ) {}

  /** A site pushes only as itself: the site comes from the signature, never from the body. */
  @Post(SYNC_PATHS.push)
  @HttpCode(200)
  push(@CallingSite() site: string, @Body() body: unknown) {
    return this.pushes.push(site, parsePushRequest(body));
  }

  @Post(SYNC_PATHS.pull)
  @HttpCode(200)
  pull(@CallingSite() site: string, @Body() body: unknown) {
    return this.feed.pull(site, parsePullRequest(body));
  }

  @Post(SYNC_PATHS.manifest)
  @HttpCode(200)
  manifest(@CallingSite() site: string, @Body() body: unknown) {
    return this.feed.manifest(site, parseManifestRequest(body));
  }

  @Post(SYNC_PATHS.snapshot)
  @HttpCode(200)
  snapshot(@CallingSite() site: string, @Body() body: unknown) {
    return this.feed.snapshot(site, parseSnapshotRequest(body));
  }

  /** SSE: one `change` event whenever the change log moves for the site's scope or the tree. */
  @Get(SYNC_PATHS.signal)
  async changes(
    @CallingSite() site: string,
    @Req() req: SiteRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const head = await this.feed.head();
    reply.hijack();
    const out = reply.raw;
    out.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-served-by': this.config.siteId,
    });
    const send = (event: SignalEvent) => out.write(`event: change\ndata: ${JSON.stringify(event)}\n\n`);
    send({ version: head });
    const unsubscribe = this.signal.subscribe(
      (notice) => {
        const config = this.config.current;
        const relevant =
          notice.tree || notice.domains === null || notice.domains.some((d) => inSiteScope(config, site, d));
        if (relevant)
          send(notice.resync ? { version: notice.version, resync: true } : { version: notice.version });
      },
      () => out.end(),
    );
    const keepalive = setInterval(() => out.write(': keepalive\n\n'), KEEPALIVE_MS);
    req.raw.on('close', () => {
      clearInterval(keepalive);
      unsubscribe();
    });
  }
}
