import { Module } from '@nestjs/common';
import { DirectoryModule } from '../directory/directory.module';
import { ChangeSignalService } from './change-signal.service';
import { PgNonceStore } from './pg-nonce.store';
import { ProxyHopCheck } from './proxy-hop.check';
import { PushLedgerStore } from './push-ledger.store';
import { PushService } from './push.service';
import { RetentionService } from './retention.service';
import { SiteCallGuard } from './site-call.guard';
import { SiteFeedService } from './site-feed.service';
import { SiteFeedStore } from './site-feed.store';
import { SiteSyncController } from './site-sync.controller';

@Module({
  imports: [DirectoryModule],
  controllers: [SiteSyncController],
  providers: [
    ChangeSignalService,
    PgNonceStore,
    ProxyHopCheck,
    PushLedgerStore,
    PushService,
    RetentionService,
    SiteCallGuard,
    SiteFeedService,
    SiteFeedStore,
  ],
  exports: [PushLedgerStore, ChangeSignalService, RetentionService, ProxyHopCheck],
})
export class SyncModule {}
