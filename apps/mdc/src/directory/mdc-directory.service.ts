import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { servingSites } from '@dd/cluster-config';
import { Change, Domain, Entity, isValidDomainName, JsonObject, parentOf } from '@dd/directory';
import {
  ApiError,
  Caller,
  ClusterConfigService,
  Conditional,
  DirectoryService,
  DomainSummary,
  DomainView,
  EntityView,
  Page,
  pageOf,
  Written,
} from '@dd/admin-api';
import { scopeAllows } from '@dd/site-auth';
import { ApplyChanges } from './apply-changes';
import { DirectoryStore } from './directory.store';

/** SPEC §5 at the master site: every domain, answered from DomainDB; writes are `synced` at once. */
@Injectable()
export class MdcDirectoryService implements DirectoryService {
  constructor(
    private readonly store: DirectoryStore,
    private readonly applier: ApplyChanges,
    private readonly config: ClusterConfigService,
  ) {}

  async listDomains(caller: Caller, parent: string | undefined, limit: number, after: string | undefined) {
    const config = this.config.current;
    const items: DomainSummary[] = [];
    let cursor = after;
    // Out-of-scope domains are filtered after the fetch, so fetch until the page is full.
    for (;;) {
      const rows = await this.store.listDomains(parent, cursor, limit + 1);
      for (const d of rows) {
        if (scopeAllows(caller.admin.scope, d.name)) {
          items.push({ name: d.name, parent: d.parent, servedBy: servingSites(config, d.name) });
        }
      }
      if (items.length > limit || rows.length <= limit) break;
      cursor = rows[rows.length - 1].name;
    }
    return pageOf(items, limit, (d) => [d.name]) satisfies Page<DomainSummary>;
  }

  async getDomain(_caller: Caller, name: string): Promise<DomainView> {
    return this.domainOrThrow(name);
  }

  async createDomain(caller: Caller, input: { name: string; parent?: string | null; settings: JsonObject }) {
    const derived = isValidDomainName(input.name) ? parentOf(input.name) : null;
    const parent = input.parent === undefined ? derived : input.parent;
    const change: Change = {
      op: 'domain.create',
      id: randomUUID(),
      name: input.name,
      parent,
      settings: input.settings,
    };
    const version = await this.applyOne(caller, change);
    return synced(await this.readDomain(change.id, version));
  }

  async patchDomain(caller: Caller, name: string, settings: JsonObject, cond: Conditional) {
    const current = await this.domainOrThrow(name);
    const version = await this.applyOne(
      caller,
      { op: 'domain.update', id: current.id, name, patch: settings },
      cond,
    );
    return synced(await this.readDomain(current.id, version));
  }

  async deleteDomain(
    caller: Caller,
    name: string,
    recursive: boolean,
    cond: Conditional,
  ): Promise<Written<never>> {
    const current = await this.domainOrThrow(name);
    await this.applyOne(caller, { op: 'domain.delete', id: current.id, name, recursive }, cond);
    return { syncState: 'synced' };
  }

  async listEntities(
    _caller: Caller,
    domain: string,
    kind: string | undefined,
    limit: number,
    after?: string[],
  ) {
    await this.domainOrThrow(domain);
    const rows = await this.store.listEntities(domain, kind, after, limit + 1);
    return pageOf<EntityView>(rows, limit, (e) => [e.kind, e.name]);
  }

  async getEntity(_caller: Caller, domain: string, kind: string, name: string): Promise<EntityView> {
    return this.entityOrThrow(domain, kind, name);
  }

  async createEntity(
    caller: Caller,
    domain: string,
    input: { kind: string; name: string; attributes: JsonObject },
  ) {
    const change: Change = { op: 'entity.create', id: randomUUID(), domain, ...input };
    const version = await this.applyOne(caller, change);
    return synced(await this.readEntity(change.id, version));
  }

  async patchEntity(
    caller: Caller,
    domain: string,
    kind: string,
    name: string,
    attributes: JsonObject,
    cond: Conditional,
  ) {
    const current = await this.entityOrThrow(domain, kind, name);
    const change: Change = { op: 'entity.update', id: current.id, domain, kind, name, patch: attributes };
    const version = await this.applyOne(caller, change, cond);
    return synced(await this.readEntity(current.id, version));
  }

  async deleteEntity(caller: Caller, domain: string, kind: string, name: string, cond: Conditional) {
    const current = await this.entityOrThrow(domain, kind, name);
    await this.applyOne(caller, { op: 'entity.delete', id: current.id, domain, kind, name }, cond);
    return { syncState: 'synced' } satisfies Written<never>;
  }

  /** Applies one change through the same path as pushed ones (SPEC §7); a refusal becomes its error. */
  private async applyOne(caller: Caller, change: Change, cond: Conditional = {}): Promise<string> {
    const [outcome] = await this.applier.apply(this.config.siteId, [
      { change, actor: caller.admin.name, seq: null, ifMatch: cond.ifMatch },
    ]);
    if (!outcome.verdict.ok) {
      const { code, message, winner } = outcome.verdict;
      throw new ApiError(code, message, winner ? { winner } : {});
    }
    return outcome.version!;
  }

  /** The object as the applied change left it (a later write may already have moved it on). */
  private async readDomain(id: string, version: string): Promise<DomainView> {
    const domain = await this.store.domainById(id);
    if (!domain) throw new ApiError('domain_not_found', `domain deleted right after version ${version}`);
    return domain;
  }

  private async readEntity(id: string, version: string): Promise<EntityView> {
    const entity = await this.store.entityById(id);
    if (!entity) throw new ApiError('entity_not_found', `entity deleted right after version ${version}`);
    return entity;
  }

  private async domainOrThrow(name: string): Promise<Domain> {
    const domain = isValidDomainName(name) ? await this.store.domainByName(name) : undefined;
    if (!domain) throw new ApiError('domain_not_found', `no domain ${name}`);
    return domain;
  }

  private async entityOrThrow(domain: string, kind: string, name: string): Promise<Entity> {
    await this.domainOrThrow(domain);
    const entity = await this.store.entityByKey(domain, kind, name);
    if (!entity) throw new ApiError('entity_not_found', `no ${kind} ${name} in ${domain}`);
    return entity;
  }
}

function synced<T>(body: T): Written<T> {
  return { body, syncState: 'synced' };
}
