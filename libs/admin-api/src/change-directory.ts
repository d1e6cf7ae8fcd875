import { randomUUID } from 'node:crypto';
import { Change, fieldError, isValidDomainName, JsonObject, parentOf } from '@dd/directory';
import type {
  Caller,
  Conditional,
  DirectoryService,
  DomainSummary,
  DomainView,
  EntityView,
  Written,
} from './directory.service';
import { RefusedError } from './errors';
import { Page, pageOf } from './paging';
import { scopeAllows } from '@dd/site-auth';
import { ClusterConfig, servingSites } from '@dd/cluster-config';

/**
 * The admin API's writes, the same at every site: each request becomes one `Change` addressed by
 * id (SPEC §7) and goes to the site's store — applied at once at the MDC, applied and queued at an
 * SDC. Subclasses say how to read the tree, find objects and submit a change.
 */
export abstract class ChangeDirectory implements DirectoryService {
  /** @param config the cluster config in force (SPEC §4: which sites serve a domain) */
  constructor(private readonly clusterConfig: () => ClusterConfig) {}

  /** The site's tree in name order after `after` (children of `parent` when given): name and parent. */
  protected abstract treePage(
    parent: string | undefined,
    after: string | undefined,
    limit: number,
  ): Promise<Array<{ name: string; parent: string | null }>>;
  /** The domain's entities ordered by kind, name after `after` (SPEC §5), as this site shows them. */
  protected abstract entityPage(
    domain: string,
    kind: string | undefined,
    after: string[] | undefined,
    limit: number,
  ): Promise<EntityView[]>;
  /** 404 `domain_not_found` unless this site holds the domain */
  protected abstract domainOrThrow(name: string): Promise<DomainView>;
  /** 404 `entity_not_found` (or `domain_not_found`) unless this site holds the entity */
  protected abstract entityOrThrow(domain: string, kind: string, name: string): Promise<EntityView>;
  /** Applies or queues the change (a refusal throws its ApiError), then reads the result back. */
  protected abstract submit<T>(
    caller: Caller,
    change: Change,
    ifMatch: string | undefined,
    read: (() => Promise<T>) | undefined,
  ): Promise<Written<T>>;

  /**
   * SPEC §5: a change is checked with the rules' own field checks before the site's store sees it,
   * so the MDC and every site refuse the same things (400 `validation_failed`) and no store is asked
   * about a name or value it could not keep as given.
   */
  private checkedSubmit<T>(
    caller: Caller,
    change: Change,
    ifMatch: string | undefined,
    read: (() => Promise<T>) | undefined,
  ): Promise<Written<T>> {
    const message = fieldError(change);
    if (message !== null) throw new RefusedError({ code: 'validation_failed', message, winner: null });
    return this.submit(caller, change, ifMatch, read);
  }

  /** SPEC §5: the tree, by name; an admin sees the domains in its scope (filtered, so fetch until full). */
  async listDomains(caller: Caller, parent: string | undefined, limit: number, after: string | undefined) {
    const items: DomainSummary[] = [];
    let cursor = after;
    for (;;) {
      const rows = await this.treePage(parent, cursor, limit + 1);
      for (const d of rows) {
        if (scopeAllows(caller.admin.scope, d.name)) {
          items.push({
            name: d.name,
            parent: d.parent,
            servedBy: servingSites(this.clusterConfig(), d.name),
          });
        }
      }
      if (items.length > limit || rows.length <= limit) break;
      cursor = rows[rows.length - 1].name;
    }
    return pageOf(items, limit, (d) => [d.name]) satisfies Page<DomainSummary>;
  }

  async listEntities(
    _caller: Caller,
    domain: string,
    kind: string | undefined,
    limit: number,
    after?: string[],
  ) {
    await this.domainOrThrow(domain);
    const rows = await this.entityPage(domain, kind, after, limit + 1);
    return pageOf(rows, limit, (e) => [e.kind, e.name]);
  }

  getDomain(_caller: Caller, name: string): Promise<DomainView> {
    return this.domainOrThrow(name);
  }

  createDomain(caller: Caller, input: { name: string; parent?: string | null; settings: JsonObject }) {
    const derived = isValidDomainName(input.name) ? parentOf(input.name) : null;
    const change: Change = {
      op: 'domain.create',
      id: randomUUID(),
      name: input.name,
      parent: input.parent === undefined ? derived : input.parent,
      settings: input.settings,
    };
    return this.checkedSubmit(caller, change, undefined, () => this.domainOrThrow(input.name));
  }

  async patchDomain(caller: Caller, name: string, settings: JsonObject, cond: Conditional) {
    const current = await this.domainOrThrow(name);
    const change: Change = { op: 'domain.update', id: current.id, name, patch: settings };
    return this.checkedSubmit(caller, change, cond.ifMatch, () => this.domainOrThrow(name));
  }

  async deleteDomain(
    caller: Caller,
    name: string,
    recursive: boolean,
    cond: Conditional,
  ): Promise<Written<never>> {
    const current = await this.domainOrThrow(name);
    return this.checkedSubmit<never>(
      caller,
      { op: 'domain.delete', id: current.id, name, recursive },
      cond.ifMatch,
      undefined,
    );
  }

  getEntity(_caller: Caller, domain: string, kind: string, name: string): Promise<EntityView> {
    return this.entityOrThrow(domain, kind, name);
  }

  async createEntity(
    caller: Caller,
    domain: string,
    input: { kind: string; name: string; attributes: JsonObject },
  ) {
    await this.domainOrThrow(domain);
    const change: Change = { op: 'entity.create', id: randomUUID(), domain, ...input };
    return this.checkedSubmit(caller, change, undefined, () =>
      this.entityOrThrow(domain, input.kind, input.name),
    );
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
    return this.checkedSubmit(caller, change, cond.ifMatch, () => this.entityOrThrow(domain, kind, name));
  }

  async deleteEntity(caller: Caller, domain: string, kind: string, name: string, cond: Conditional) {
    const current = await this.entityOrThrow(domain, kind, name);
    const change: Change = { op: 'entity.delete', id: current.id, domain, kind, name };
    return this.checkedSubmit<never>(caller, change, cond.ifMatch, undefined);
  }
}
