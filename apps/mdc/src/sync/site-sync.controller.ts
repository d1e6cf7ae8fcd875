import { Body, Controller, Get, HttpCode, Post, Req, Res, UseGuards } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ApiError, ClusterConfigService, Public } from '@dd/admin-api';
import {
  parsePullRequest,
  parsePushRequest,
  parseSnapshotRequest,
  ProtocolError,
  SYNC_PATHS,
} from '@dd/sync-protocol';
import { ChangeSignalService } from './change-signal.service';
import { PushService } from './push.service';
import { SiteCallGuard, SiteRequest } from './site-call.guard';
import { SiteFeedService } from './site-feed.service';
import { SiteFeedStore } from './site-feed.store';
import { inSiteScope } from './site-scope';

const KEEPALIVE_MS = 15_000;

function parsed<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof ProtocolError) throw new ApiError('validation_failed', err.message);
    throw err;
  }
}

/** SPEC §7, §8: the calls sites make to the MDC, each signed by the calling site (SPEC §9). */
@ApiExcludeController()
@Public()
@UseGuards(SiteCallGuard)
@Controller()
export class SiteSyncController {
  constructor(
    private readonly pushes: PushService,
    private readonly feed: SiteFeedService,
    private readonly feedStore: SiteFeedStore,
    private readonly signal: ChangeSignalService,
    private readonly config: ClusterConfigService,
  ) {}

  /** A site pushes only as itself: the site comes from the signature, never from the body. */
  @Post(SYNC_PATHS.push)
  @HttpCode(200)
  push(@Req() req: SiteRequest, @Body() body: unknown) {
    return this.pushes.push(
      req.site!,
      parsed(() => parsePushRequest(body)),
    );
  }

  @Post(SYNC_PATHS.pull)
  @HttpCode(200)
  pull(@Req() req: SiteRequest, @Body() body: unknown) {
    return this.feed.pull(
      req.site!,
      parsed(() => parsePullRequest(body)),
    );
  }

  @Post(SYNC_PATHS.manifest)
  @HttpCode(200)
  manifest(@Req() req: SiteRequest, @Body() body: { detail?: unknown } | undefined) {
    return this.feed.manifest(req.site!, { detail: body?.detail === true });
  }

  @Post(SYNC_PATHS.snapshot)
  @HttpCode(200)
  snapshot(@Req() req: SiteRequest, @Body() body: unknown) {
    return this.feed.snapshot(
      req.site!,
      parsed(() => parseSnapshotRequest(body)),
    );
  }

  /** SSE: one `change` event whenever the change log moves for the site's scope or the tree. */
  @Get(SYNC_PATHS.signal)
  async changes(@Req() req: SiteRequest, @Res() reply: FastifyReply): Promise<void> {
    const site = req.site!;
    const head = await this.feedStore.consistent((tx) => this.feedStore.head(tx));
    reply.hijack();
    const out = reply.raw;
    out.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-served-by': this.config.siteId,
    });
    const send = (version: string) => out.write(`event: change\ndata: ${JSON.stringify({ version })}\n\n`);
    send(head.toString());
    const unsubscribe = this.signal.subscribe((notice) => {
      const config = this.config.current;
      const relevant =
        notice.tree || notice.domains === null || notice.domains.some((d) => inSiteScope(config, site, d));
      if (relevant) send(notice.version);
    });
    const keepalive = setInterval(() => out.write(': keepalive\n\n'), KEEPALIVE_MS);
    req.raw.on('close', () => {
      clearInterval(keepalive);
      unsubscribe();
    });
  }
}
