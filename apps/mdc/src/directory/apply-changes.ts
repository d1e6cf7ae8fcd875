import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import {
  BatchLedger,
  Change,
  decide,
  digestChanges,
  DirectoryOverlay,
  Effect,
  touchedDomains,
  Verdict,
} from '@dd/directory';
import { ClusterConfigService } from '@dd/admin-api';
import { AuditWrite, ChangeLogWrite, DirectoryStore, DomainWrite, EntityWrite } from './directory.store';
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
    const objects = new BatchLedger(loaded, overlay);
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
    const current = await this.store.loadDigests(tx, touchedDomains(objects));
    await this.store.writeDigests(tx, digestChanges(objects, current));
    await this.store.setHead(tx, version);
    const changedDomains = [...new Set(log.map((r) => r.domain))];
    await this.store.notifyChange(tx, signalPayload(version.toString(), changedDomains, objects.treeMoved()));
    this.metrics.changesApplied.inc(audit.length);
    return outcomes;
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

/** NOTIFY payloads are capped at 8000 bytes: past that, say "anything may have changed". */
function signalPayload(version: string, domains: string[], tree: boolean): string {
  const full = JSON.stringify({ version, domains, tree });
  return full.length < 7000 ? full : JSON.stringify({ version, domains: null, tree });
}
