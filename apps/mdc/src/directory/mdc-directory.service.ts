import { Injectable } from '@nestjs/common';
import { Decided, isValidDomainName } from '@dd/directory';
import {
  AdminWrite,
  ApiError,
  Caller,
  ChangeDirectory,
  ClusterConfigService,
  DomainView,
  EntityView,
  GroupCommit,
  RefusedError,
  WriteOutcome,
} from '@dd/admin-api';
import { ApplyChanges, Submission } from './apply-changes';
import { DirectoryStore } from './directory.store';

/** The most admin writes one transaction takes (SPEC §6: grouped like a site's). */
const MAX_GROUP = 1000;

/** SPEC §5 at the master site: every domain, answered from DomainDB; writes are `synced` at once. */
@Injectable()
export class MdcDirectoryService extends ChangeDirectory {
  /**
   * SPEC §6: admin writes that arrive while a transaction is in flight share the next one — one
   * counter lock, one set-wise apply (SPEC §7), each write keeping its own verdict and version.
   */
  private readonly group: GroupCommit<Submission, Decided<Submission>>;

  constructor(
    private readonly store: DirectoryStore,
    private readonly applier: ApplyChanges,
    private readonly config: ClusterConfigService,
  ) {
    super(() => config.current);
    this.group = new GroupCommit((items) => this.applier.apply(this.config.siteId, items), MAX_GROUP);
  }

  protected treePage(parent: string | undefined, after: string | undefined, limit: number) {
    return this.store.listDomains(parent, after, limit);
  }

  protected entityPage(domain: string, kind: string | undefined, after: string[] | undefined, limit: number) {
    return this.store.listEntities(domain, kind, after, limit);
  }

  /** Through the same path as pushed changes (SPEC §7); If-Match is checked against DomainDB. */
  protected async submit(caller: Caller, writes: AdminWrite[]): Promise<WriteOutcome[]> {
    const settled = await this.group.submitEach(
      writes.map(({ write, ifMatch }) => ({ change: write, actor: caller.admin.name, seq: null, ifMatch })),
    );
    return settled.map((s): WriteOutcome => {
      // A transaction that failed fails only the writes of its group (SPEC §5: each answered).
      if (s.status === 'rejected') return { ok: false, error: s.reason };
      const { verdict, after } = s.value;
      if (!verdict.ok) return { ok: false, error: new RefusedError(verdict) };
      return { ok: true, body: after, syncState: 'synced' };
    });
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
