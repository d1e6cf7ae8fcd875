import { Module } from '@nestjs/common';
import { DirectoryModule } from '../directory/directory.module';
import { ChangeSignalService } from './change-signal.service';
import { PushLedgerStore } from './push-ledger.store';
import { PushScope } from './push-scope';
import { PushService } from './push.service';
import { RetentionService } from './retention.service';
import { RetentionStore } from './retention.store';
import { SiteCallGuard } from './site-call.guard';
import { SiteFeedService } from './site-feed.service';
import { SiteFeedStore } from './site-feed.store';
import { SiteSyncController } from './site-sync.controller';
import { ZoneHistoryStore } from './zone-history.store';

@Module({
  imports: [DirectoryModule],
  controllers: [SiteSyncController],
  providers: [
    ChangeSignalService,
    PushLedgerStore,
    PushScope,
    PushService,
    RetentionService,
    RetentionStore,
    SiteCallGuard,
    SiteFeedService,
    SiteFeedStore,
    ZoneHistoryStore,
  ],
  exports: [PushLedgerStore, ChangeSignalService],
})
export class SyncModule {}
