import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { ClusterConfigService, messageOf } from '@dd/admin-api';
import { ClusterConfig, mayChange, zoneAssignments } from '@dd/cluster-config';
import { Change, DirectoryView, isTombstone } from '@dd/directory';
import type { Screen } from '../directory/apply-changes';
import { ZoneHistoryStore } from './zone-history.store';

/**
 * SPEC §9: a site can change only what it serves. Records, at start-up and on every config reload,
 * which sites serve which zone (so a zone moved away keeps its old site's queued changes landing for
 * `cluster.zoneMoveGraceMs`), and gives a push the screen that refuses the rest as `forbidden`.
 */
@Injectable()
export class PushScope implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('PushScope');
  /** recordings run one after another, so an older config never lands after a newer one */
  private recording: Promise<void> = Promise.resolve();
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly config: ClusterConfigService,
    private readonly history: ZoneHistoryStore,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.unsubscribe = this.config.onChange((next) => {
      this.recording = this.recording
        .then(() => this.record(next, Date.now()))
        .catch((err) => this.logger.error(`could not record the zones of the new config: ${messageOf(err)}`));
    });
    await this.record(this.config.current, Date.now());
  }

  onModuleDestroy(): void {
    this.unsubscribe?.();
  }

  /** The screen for one push by `site` at `now`: each change must stay within the site's scope. */
  async screenFor(site: string, now: number): Promise<Screen> {
    const config = this.config.current;
    const history = await this.history.endingAfter(new Date(now - config.cluster.zoneMoveGraceMs));
    return ({ change }, stored) => {
      // A pushed change carries its id (validate.ts); only an admin's write may name its target.
      if (change.id === undefined)
        return { ok: false, code: 'forbidden', message: 'a pushed change needs its id', winner: null };
      const scope = mayChange(config, history, site, change, now, storedDomain(stored, change));
      return scope.ok ? null : { ok: false, code: 'forbidden', message: scope.message, winner: null };
    };
  }

  private record(config: ClusterConfig, now: number): Promise<void> {
    return this.history.record(
      zoneAssignments(config),
      new Date(now),
      new Date(now - config.cluster.zoneMoveGraceMs),
    );
  }
}

/** The domain of the stored object the change's id addresses, if there is one (live or deleted). */
function storedDomain(stored: DirectoryView, change: Change): string | undefined {
  switch (change.op) {
    case 'domain.create':
    case 'domain.update':
    case 'domain.delete': {
      const domain = stored.domainById(change.id);
      if (domain === undefined) return undefined;
      return isTombstone(domain) ? domain.domain : domain.name;
    }
    default:
      return stored.entityById(change.id)?.domain;
  }
}
