import type { AdminIdentity } from '@dd/site-auth';
import type { Domain, Entity, JsonObject, Write } from '@dd/directory';
import type { Page } from './paging';
import type { SyncState } from './headers';

/** Who is asking, as established by the site that answers (SPEC §9: enforced there, not only by a forwarder). */
export interface Caller {
  admin: AdminIdentity;
  /** `X-Wait-For: mdc` on a write at an SDC */
  waitForMdc: boolean;
}

export interface DomainSummary {
  name: string;
  parent: string | null;
  servedBy: string[];
}

export type DomainView = Domain & { pending?: boolean };
export type EntityView = Entity & { pending?: boolean };

export interface Written<T> {
  /** undefined for a delete */
  body?: T;
  syncState: SyncState;
  /** 202 when an SDC could not reach the MDC in time for `X-Wait-For: mdc` */
  accepted?: boolean;
}

export interface Conditional {
  ifMatch?: string;
}

/** One write of a request or a batch (SPEC §5): an update or delete may name its target (write.ts). */
export interface AdminWrite {
  write: Write;
  ifMatch?: string;
}

/** What became of one write: its answer, or the error it is answered with (SPEC §5 codes). */
export type WriteOutcome = ({ ok: true } & Written<DomainView | EntityView>) | { ok: false; error: unknown };

/**
 * The admin API's operations, served by both apps from their own store (SPEC §5):
 * the MDC from DomainDB, an SDC from its cache. The shared controllers call only this.
 */
export interface DirectoryService {
  listDomains(
    caller: Caller,
    parent: string | undefined,
    limit: number,
    after: string | undefined,
  ): Promise<Page<DomainSummary>>;
  getDomain(caller: Caller, name: string): Promise<DomainView>;
  createDomain(
    caller: Caller,
    input: { name: string; parent?: string | null; settings: JsonObject },
  ): Promise<Written<DomainView>>;
  patchDomain(
    caller: Caller,
    name: string,
    settings: JsonObject,
    cond: Conditional,
  ): Promise<Written<DomainView>>;
  deleteDomain(caller: Caller, name: string, recursive: boolean, cond: Conditional): Promise<Written<never>>;
  listEntities(
    caller: Caller,
    domain: string,
    kind: string | undefined,
    limit: number,
    after: string[] | undefined,
  ): Promise<Page<EntityView>>;
  getEntity(caller: Caller, domain: string, kind: string, name: string): Promise<EntityView>;
  createEntity(
    caller: Caller,
    domain: string,
    input: { kind: string; name: string; attributes: JsonObject },
  ): Promise<Written<EntityView>>;
  patchEntity(
    caller: Caller,
    domain: string,
    kind: string,
    name: string,
    attributes: JsonObject,
    cond: Conditional,
  ): Promise<Written<EntityView>>;
  deleteEntity(
    caller: Caller,
    domain: string,
    kind: string,
    name: string,
    cond: Conditional,
  ): Promise<Written<never>>;
  /**
   * Several writes decided in order, each seeing the ones before it, and answered each on its own
   * (SPEC §5 `POST /batch`): one refused write does not stop the rest.
   */
  writeAll(caller: Caller, writes: AdminWrite[]): Promise<WriteOutcome[]>;
}

export const DIRECTORY_SERVICE = Symbol('DirectoryService');
