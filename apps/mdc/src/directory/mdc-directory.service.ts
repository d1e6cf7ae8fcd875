import { Injectable } from '@nestjs/common';
import { Change, isValidDomainName } from '@dd/directory';
import {
  ApiError,
  Caller,
  ChangeDirectory,
  ClusterConfigService,
  DomainView,
  EntityView,
  RefusedError,
  Written,
} from '@dd/admin-api';
import { ApplyChanges } from './apply-changes';
import { DirectoryStore } from './directory.store';

/** SPEC §5 at the master site: every domain, answered from DomainDB; writes are `synced` at once. */
@Injectable()
export class MdcDirectoryService extends ChangeDirectory {
  constructor(
    private readonly store: DirectoryStore,
    private readonly applier: ApplyChanges,
    private readonly config: ClusterConfigService,
  ) {
    super(() => config.current);
  }

  protected treePage(parent: string | undefined, after: string | undefined, limit: number) {
    return this.store.listDomains(parent, after, limit);
  }

  protected entityPage(domain: string, kind: string | undefined, after: string[] | undefined, limit: number) {
    return this.store.listEntities(domain, kind, after, limit);
  }

  /** Through the same path as pushed changes (SPEC §7); If-Match is checked against DomainDB. */
  protected async submit<T>(
    caller: Caller,
    change: Change,
    ifMatch: string | undefined,
    read: (() => Promise<T>) | undefined,
  ): Promise<Written<T>> {
    const [outcome] = await this.applier.apply(this.config.siteId, [
      { change, actor: caller.admin.name, seq: null, ifMatch },
    ]);
    if (!outcome.verdict.ok) throw new RefusedError(outcome.verdict);
    return { body: await read?.(), syncState: 'synced' };
  }

  protected async domainOrThrow(name: string): Promise<DomainView> {
    const domain = isValidDomainName(name) ? await this.store.domainByName(name) : undefined;
    if (!domain) throw new ApiError('domain_not_found', `no domain ${name}`);
    return domain;
  }

  protected async entityOrThrow(domain: string, kind: string, name: string): Promise<EntityView> {
    await this.domainOrThrow(domain);
    const entity = await this.store.entityByKey(domain, kind, name);
    if (!entity) throw new ApiError('entity_not_found', `no ${kind} ${name} in ${domain}`);
    return entity;
  }
}
