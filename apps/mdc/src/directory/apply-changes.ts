import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import {
  addElement,
  Change,
  decide,
  DirectoryOverlay,
  Domain,
  DomainDigest,
  Effect,
  EMPTY_DIGEST,
  elementHash,
  Entity,
  isTombstone,
  removeElement,
  Tombstone,
  Verdict,
} from '@dd/directory';
import { ClusterConfigService } from '@dd/admin-api';
import {
  AuditWrite,
  ChangeLogWrite,
  DirectoryStore,
  DomainWrite,
  EntityWrite,
  LoadedState,
} from './directory.store';
import { MdcMetrics } from '../ops/mdc.metrics';

/** One change to decide, as it came from a site's push or from the MDC's own admin API. */
export interface Submission {
  change: Change;
  actor: string;
  seq: number | null;
  /** only for the MDC's own admin API: SPEC §5 If-Match against DomainDB */
  ifMatch?: string;
}

export interface Outcome {
  verdict: Verdict;
  /** the change-log version an accepted change got */
  version?: string;
}

/** The objects a batch touched: where they started and where they ended. */
interface Touched<T> {
  before: T | undefined;
  after: T;
  deleted: boolean;
}

/**
 * SPEC §7: applies a batch set-wise. One query per table loads every target, the pure rules decide
 * in order (each seeing the ones before it), and a few multi-row statements write the results, the
 * change log, the audit log and the manifest digests — all in the caller's transaction, after it
 * locked the version counter (so versions commit in order).
 */
@Injectable()
export class ApplyChanges {
  constructor(
    private readonly store: DirectoryStore,
    private readonly config: ClusterConfigService,
    private readonly metrics: MdcMetrics,
  ) {}

  /** A batch in its own transaction (the MDC's admin API). */
  apply(site: string, submissions: Submission[]): Promise<Outcome[]> {
    return this.store.transaction(async (tx) => {
      const head = await this.store.lockHead(tx);
      return this.applyLocked(tx, head, site, null, submissions);
    });
  }

  /** Within a transaction that already holds the counter lock and read `head`. */
  async applyLocked(
    tx: EntityManager,
    head: bigint,
    site: string,
    epoch: string | null,
    submissions: Submission[],
  ): Promise<Outcome[]> {
    if (submissions.length === 0) return [];
    const at = new Date().toISOString();
    const loaded = await this.store.loadFor(
      tx,
      submissions.map((s) => s.change),
    );
    const overlay = new DirectoryOverlay(loaded.view);
    const masterDomain = this.config.current.masterDomain;
    const objects = new TouchedObjects(loaded, overlay);
    const outcomes: Outcome[] = [];
    const log: ChangeLogWrite[] = [];
    const audit: AuditWrite[] = [];
    let version = head;
    for (const s of submissions) {
      const verdict = decide(overlay, s.change, { masterDomain, ifMatch: s.ifMatch });
      if (!verdict.ok) {
        outcomes.push({ verdict });
        continue;
      }
      version += 1n;
      const v = version.toString();
      overlay.apply(verdict.effects, v, at);
      for (const e of verdict.effects) {
        objects.record(e, v, at);
        log.push(changeLogRow(e, v, at));
      }
      audit.push({
        version: v,
        site,
        epoch,
        seq: s.seq,
        actor: s.actor,
        op: s.change.op,
        domain: targetDomain(s.change),
        change: s.change,
        at,
      });
      outcomes.push({ verdict, version: v });
    }
    if (version === head) return outcomes;

    const { domains, entities } = objects;
    await this.store.writeObjects(
      tx,
      [...domains.values()].map(
        (t) => ({ domain: t.after, deletedAt: t.deleted ? at : null }) satisfies DomainWrite,
      ),
      [...entities.values()].map(
        (t) => ({ entity: t.after, deletedAt: t.deleted ? at : null }) satisfies EntityWrite,
      ),
    );
    await this.store.appendChangeLog(tx, log);
    await this.store.appendAudit(tx, audit);
    await this.updateDigests(tx, domains, entities);
    await this.store.setHead(tx, version);
    const changedDomains = [...new Set(log.map((r) => r.domain))];
    const tree = log.some(
      (r) => r.object_type === 'domain' && (r.op === 'delete' || !domains.get(r.object_id)?.before),
    );
    await this.store.notifyChange(tx, signalPayload(version.toString(), changedDomains, tree));
    this.metrics.changesApplied.inc(audit.length);
    return outcomes;
  }

  /** SPEC §8: each domain's digest moves by exactly the objects that changed in it. */
  private async updateDigests(
    tx: EntityManager,
    domains: Map<string, Touched<Domain>>,
    entities: Map<string, Touched<Entity>>,
  ): Promise<void> {
    const names = new Set<string>();
    for (const t of domains.values()) names.add(t.after.name);
    for (const t of entities.values()) names.add(t.after.domain);
    const digests: Map<string, DomainDigest | null> = await this.store.loadDigests(tx, [...names]);
    const adjust = (
      name: string,
      before: Domain | Entity | undefined,
      after: Domain | Entity | undefined,
    ) => {
      let d = digests.get(name) ?? EMPTY_DIGEST;
      if (before) d = removeElement(d, elementHash(before));
      if (after) d = addElement(d, elementHash(after));
      digests.set(name, d);
    };
    for (const t of entities.values()) adjust(t.after.domain, t.before, t.deleted ? undefined : t.after);
    for (const t of domains.values()) adjust(t.after.name, t.before, t.deleted ? undefined : t.after);
    // A deleted domain has no digest at all; its entities went with it (has_children or recursive).
    const live = new Set([...domains.values()].filter((t) => !t.deleted).map((t) => t.after.name));
    for (const t of domains.values())
      if (t.deleted && !live.has(t.after.name)) digests.set(t.after.name, null);
    await this.store.writeDigests(tx, digests);
  }
}

function targetDomain(change: Change): string {
  return change.op.startsWith('domain.')
    ? (change as { name: string }).name
    : (change as { domain: string }).domain;
}

function changeLogRow(effect: Effect, version: string, at: string): ChangeLogWrite {
  switch (effect.type) {
    case 'domain.put':
      return {
        version,
        object_type: 'domain',
        object_id: effect.domain.id,
        domain: effect.domain.name,
        op: 'put',
        at,
      };
    case 'domain.delete':
      return { version, object_type: 'domain', object_id: effect.id, domain: effect.name, op: 'delete', at };
    case 'entity.put':
      return {
        version,
        object_type: 'entity',
        object_id: effect.entity.id,
        domain: effect.entity.domain,
        op: 'put',
        at,
      };
    case 'entity.delete':
      return {
        version,
        object_type: 'entity',
        object_id: effect.id,
        domain: effect.domain,
        op: 'delete',
        at,
      };
  }
}

/**
 * Follows a batch's effects to every object's final state. A tombstone keeps the object's last
 * live state (its name stays in DomainDB), stamped with the deleting change's version.
 */
class TouchedObjects {
  readonly domains = new Map<string, Touched<Domain>>();
  readonly entities = new Map<string, Touched<Entity>>();

  constructor(
    private readonly loaded: LoadedState,
    private readonly overlay: DirectoryOverlay,
  ) {}

  record(effect: Effect, version: string, at: string): void {
    switch (effect.type) {
      case 'domain.put':
        return this.put(
          this.domains,
          effect.domain.id,
          this.loaded.domains,
          this.overlay.domainById(effect.domain.id),
        );
      case 'entity.put':
        return this.put(
          this.entities,
          effect.entity.id,
          this.loaded.entities,
          this.overlay.entityById(effect.entity.id),
        );
      case 'domain.delete':
        return this.delete(this.domains, effect.id, this.loaded.domains, version, at);
      case 'entity.delete':
        return this.delete(this.entities, effect.id, this.loaded.entities, version, at);
    }
  }

  private put<T extends Domain | Entity>(
    into: Map<string, Touched<T>>,
    id: string,
    loaded: Map<string, T>,
    now: T | Tombstone | undefined,
  ): void {
    if (!now || isTombstone(now)) throw new Error(`overlay lost the object ${id} it was just given`);
    into.set(id, { before: loaded.get(id), after: now, deleted: false });
  }

  private delete<T extends Domain | Entity>(
    into: Map<string, Touched<T>>,
    id: string,
    loaded: Map<string, T>,
    version: string,
    at: string,
  ): void {
    const lastLive = into.get(id)?.after ?? loaded.get(id);
    if (!lastLive) throw new Error(`delete of ${id}, which the batch never loaded`);
    into.set(id, { before: loaded.get(id), after: { ...lastLive, version, updatedAt: at }, deleted: true });
  }
}

/** NOTIFY payloads are capped at 8000 bytes: past that, say "anything may have changed". */
function signalPayload(version: string, domains: string[], tree: boolean): string {
  const full = JSON.stringify({ version, domains, tree });
  return full.length < 7000 ? full : JSON.stringify({ version, domains: null, tree });
}
