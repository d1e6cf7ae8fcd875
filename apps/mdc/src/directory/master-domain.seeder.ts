import { randomUUID } from 'node:crypto';
import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { ClusterConfigService } from '@dd/admin-api';
import { ApplyChanges } from './apply-changes';
import { DirectoryStore } from './directory.store';

/** SPEC §3: the master domain is created by the MDC at first start (a race between replicas is harmless). */
@Injectable()
export class MasterDomainSeeder implements OnApplicationBootstrap {
  private readonly logger = new Logger('MasterDomain');

  constructor(
    private readonly store: DirectoryStore,
    private readonly applier: ApplyChanges,
    private readonly config: ClusterConfigService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const name = this.config.current.masterDomain;
    if (await this.store.domainByName(name)) return;
    const [outcome] = await this.applier.apply(this.config.siteId, [
      {
        change: { op: 'domain.create', id: randomUUID(), name, parent: null, settings: {} },
        actor: 'system',
        seq: null,
      },
    ]);
    if (outcome.verdict.ok) this.logger.log(`created the master domain ${name}`);
  }
}
