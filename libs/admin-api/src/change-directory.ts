import { fieldError, JsonObject, Write } from '@dd/directory';
import { domainCreate, entityCreate } from './write-requests';
import type {
  AdminWrite,
  Caller,
  Conditional,
  DirectoryService,
  DomainSummary,
  DomainView,
  EntityView,
  WriteOutcome,
  Written,
} from './directory.service';
import { RefusedError } from './errors';
import { Page, pageOf } from './paging';
import { scopeAllows } from '@dd/site-auth';
import { ClusterConfig, servingSites } from '@dd/cluster-config';

/**
 * The admin API's writes, the same at every site: each request becomes one `Write` (a change, its
 * target named until it is decided: SPEC §7 addresses it by id from then on) and goes to the site's
 * store — applied at once at the MDC, applied and queued at an SDC, in groups at both. Subclasses say
 * how to read the tree, find objects and submit writes.
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
  /**
   * Applies or queues these writes in order (SPEC §6 group commit: one step for many), each with
   * its own outcome; the body of an accepted write is its target as the write left it — never read
   * back from the store.
   */
  protected abstract submit(caller: Caller, writes: AdminWrite[]): Promise<WriteOutcome[]>;

  /**
   * SPEC §5: a write is checked with the rules' own field checks before the site's store sees it,
   * so the MDC and every site refuse the same things (400 `validation_failed`) and no store is asked
   * about a name or value it could not keep as given.
   */
  async writeAll(caller: Caller, writes: AdminWrite[]): Promise<WriteOutcome[]> {
    const outcomes: Array<WriteOutcome | undefined> = writes.map(({ write }) => {
      const message = fieldError(write);
      return message === null
        ? undefined
        : { ok: false, error: new RefusedError({ code: 'validation_failed', message, winner: null }) };
    });
    const valid = writes.filter((_, i) => outcomes[i] === undefined);
    const submitted = valid.length > 0 ? await this.submit(caller, valid) : [];
    let next = 0;
    return outcomes.map((o) => o ?? submitted[next++]);
  }

  private async writeOne<T extends DomainView | EntityView>(
    caller: Caller,
    write: Write,
    ifMatch?: string,
  ): Promise<Written<T>> {
    const [outcome] = await this.writeAll(caller, [{ write, ifMatch }]);
    if (!outcome.ok) throw outcome.error;
    const { body, syncState, accepted } = outcome;
    return { body: body as T | undefined, syncState, ...(accepted ? { accepted } : {}) };
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
    return this.writeOne<DomainView>(caller, domainCreate(input));
  }

  patchDomain(caller: Caller, name: string, settings: JsonObject, cond: Conditional) {
    return this.writeOne<DomainView>(caller, { op: 'domain.update', name, patch: settings }, cond.ifMatch);
  }

  deleteDomain(caller: Caller, name: string, recursive: boolean, cond: Conditional): Promise<Written<never>> {
    return this.writeOne<never>(caller, { op: 'domain.delete', name, recursive }, cond.ifMatch);
  }

  getEntity(_caller: Caller, domain: string, kind: string, name: string): Promise<EntityView> {
    return this.entityOrThrow(domain, kind, name);
  }

  createEntity(
    caller: Caller,
    domain: string,
    input: { kind: string; name: string; attributes: JsonObject },
  ) {
    return this.writeOne<EntityView>(caller, entityCreate(domain, input));
  }

  patchEntity(
    caller: Caller,
    domain: string,
    kind: string,
    name: string,
    attributes: JsonObject,
    cond: Conditional,
  ) {
    const write: Write = { op: 'entity.update', domain, kind, name, patch: attributes };
    return this.writeOne<EntityView>(caller, write, cond.ifMatch);
  }

  deleteEntity(caller: Caller, domain: string, kind: string, name: string, cond: Conditional) {
    return this.writeOne<never>(caller, { op: 'entity.delete', domain, kind, name }, cond.ifMatch);
  }
}
