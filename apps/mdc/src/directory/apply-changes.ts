import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import {
  Decided,
  decideInOrder,
  bucketMoves,
  digestChanges,
  DirectoryView,
  Domain,
  elementHash,
  Entity,
  Effect,
  fieldError,
  targetDomain,
  touchedDomains,
  Verdict,
  Write,
} from '@dd/directory';
import { ClusterConfigService } from '@dd/admin-api';
import { AuditEntry, ChangeLogWrite, DirectoryStore, DomainWrite, EntityWrite } from './directory.store';
import { MdcMetrics } from '../ops/mdc.metrics';

/** One change to decide, as it came from a site's push or from the MDC's own admin API. */
export interface Submission {
  /** a pushed change, or an admin's write that may name its target (resolved when decided) */
  change: Write;
  actor: string;
  seq: number | null;
  /** only for the MDC's own admin API: SPEC §5 If-Match against DomainDB */
  ifMatch?: string;
}

export type Refusal = Extract<Verdict, { ok: false }>;

/**
 * A check each submission must pass before the rules see it (a push: SPEC §9 scope); it may look up
 * the stored state the batch loaded. A refused submission takes no version and is not decided.
 */
export type Screen = (submission: Submission, stored: DirectoryView) => Refusal | null;

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
  apply(site: string, submissions: Submission[]): Promise<Decided<Submission>[]> {
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
    screen?: Screen,
  ): Promise<Decided<Submission>[]> {
    if (submissions.length === 0) return [];
    const at = new Date().toISOString();
    // SPEC §5: a change that fails the field checks is refused by `decide` without its targets, so
    // its names (a NUL, say) never reach a query.
    const loaded = await this.store.loadFor(
      tx,
      submissions.map((s) => s.change).filter((change) => fieldError(change) === null),
    );
    const refusals = submissions.map((item) => screen?.(item, loaded.view) ?? null);
    // SPEC §3: every accepted change gets the next version after the locked head.
    const { decided: ruled, ledger } = decideInOrder(
      loaded,
      submissions.filter((_, i) => refusals[i] === null),
      { masterDomain: this.config.current.masterDomain },
      (_, n) => (head + BigInt(n) + 1n).toString(),
      at,
    );
    let next = 0;
    const decided = submissions.map((item, i): Decided<Submission> => {
      const refusal = refusals[i];
      return refusal ? { item, verdict: refusal } : ruled[next++];
    });
    const log: ChangeLogWrite[] = [];
    const audit: AuditEntry[] = [];
    for (const { item, change, verdict, version } of decided) {
      if (!verdict.ok || version === undefined || change === undefined) continue;
      for (const e of verdict.effects) log.push(changeLogRow(e, version, at));
      audit.push({
        version,
        site,
        epoch,
        seq: item.seq,
        actor: item.actor,
        op: change.op,
        domain: targetDomain(change),
        change,
        at,
      });
    }
    if (audit.length === 0) return decided;

    const newHead = head + BigInt(audit.length);
    await this.store.writeObjects(
      tx,
      [...ledger.domains.values()].map(
        (t) => ({ domain: t.after, deletedAt: t.deleted ? at : null }) satisfies DomainWrite,
      ),
      [...ledger.entities.values()].map(
        (t) => ({ entity: t.after, deletedAt: t.deleted ? at : null }) satisfies EntityWrite,
      ),
    );
    await this.store.appendChangeLog(tx, log);
    await this.store.appendAudit(tx, audit);
    const current = await this.store.loadDigests(tx, touchedDomains(ledger));
    const hash = memoized(elementHash);
    await this.store.writeDigests(tx, digestChanges(ledger, current, hash));
    const { moves, goneDomains } = bucketMoves(ledger, hash);
    await this.store.moveBuckets(tx, moves, goneDomains);
    await this.store.setHead(tx, newHead);
    const changedDomains = [...new Set(log.map((r) => r.domain))];
    await this.store.notifyChange(tx, signalPayload(newHead.toString(), changedDomains, ledger.treeMoved()));
    this.metrics.changesApplied.inc(audit.length);
    return decided;
  }
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

/** The domain digests and the bucket moves hash the same objects: each is hashed once. */
function memoized(hash: (o: Domain | Entity) => bigint): (o: Domain | Entity) => bigint {
  const seen = new Map<Domain | Entity, bigint>();
  return (o) => {
    let h = seen.get(o);
    if (h === undefined) seen.set(o, (h = hash(o)));
    return h;
  };
}

/** NOTIFY payloads are capped at 8000 bytes: past that, say "anything may have changed". */
function signalPayload(version: string, domains: string[], tree: boolean): string {
  const full = JSON.stringify({ version, domains, tree });
  return full.length < 7000 ? full : JSON.stringify({ version, domains: null, tree });
}
