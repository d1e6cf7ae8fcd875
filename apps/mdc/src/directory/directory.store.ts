import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import type { Change, Domain, DomainDigest, Entity, Write } from '@dd/directory';
import { MemoryDirectory, Tombstone } from '@dd/directory';
import {
  DomainRecord,
  domainRowJson,
  domainTombstone,
  EntityRecord,
  entityRowJson,
  entityTombstone,
  toDomain,
  toEntity,
} from './rows';

/** One object's final state after a batch; `deletedAt` set for a tombstone. */
export interface DomainWrite {
  domain: Domain;
  deletedAt: string | null;
}
export interface EntityWrite {
  entity: Entity;
  deletedAt: string | null;
}
export interface ChangeLogWrite {
  version: string;
  object_type: 'domain' | 'entity';
  object_id: string;
  domain: string;
  op: 'put' | 'delete';
  at: string;
}
/** One applied change in the audit log (SPEC §5 /audit): who, from which site, when, what, version. */
export interface AuditEntry {
  version: string;
  site: string;
  epoch: string | null;
  seq: number | null;
  actor: string;
  op: string;
  domain: string;
  change: Change;
  at: string;
}

/** What a batch loads: the targets with their full rows, so final states can be written whole. */
export interface LoadedState {
  view: MemoryDirectory;
  domains: Map<string, Domain>;
  entities: Map<string, Entity>;
}

/** The version counter's row: bigint arrives as a string. */
interface CounterRecord {
  value: string;
}

/** An audit_log row as `pg` returns it: bigint as string, timestamptz as Date, jsonb parsed. */
interface AuditRecord {
  version: string;
  site: string;
  epoch: string | null;
  seq: string | null;
  actor: string;
  op: string;
  domain: string;
  change: Change;
  at: Date;
}

const DOMAIN_COLUMNS = 'id, name, parent, settings, version, created_at, updated_at, deleted_at';
const ENTITY_COLUMNS = 'id, domain, kind, name, attributes, version, created_at, updated_at, deleted_at';

/** DomainDB: the only code of the MDC that speaks SQL to the directory's tables. */
@Injectable()
export class DirectoryStore {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  transaction<T>(work: (tx: EntityManager) => Promise<T>): Promise<T> {
    return this.db.transaction(work);
  }

  /** SPEC §3: the counter row every applying transaction locks first, so versions commit in order. */
  async lockHead(tx: EntityManager): Promise<bigint> {
    const [row]: CounterRecord[] = await tx.query(
      `SELECT value FROM version_counter WHERE id = 1 FOR UPDATE`,
    );
    return BigInt(row.value);
  }

  async setHead(tx: EntityManager, value: bigint): Promise<void> {
    await tx.query(`UPDATE version_counter SET value = $1 WHERE id = 1`, [value.toString()]);
  }

  async head(): Promise<string> {
    const [row]: CounterRecord[] = await this.db.query(`SELECT value FROM version_counter WHERE id = 1`);
    return String(row.value);
  }

  /** Loads every object the batch's rules will read, in three queries whatever the batch size. */
  async loadFor(tx: EntityManager, changes: Write[]): Promise<LoadedState> {
    const domainIds = new Set<string>();
    const domainNames = new Set<string>();
    const subtreeRoots = new Set<string>();
    const entityIds = new Set<string>();
    const keys: [string[], string[], string[]] = [[], [], []];
    for (const c of changes) {
      switch (c.op) {
        case 'domain.create':
          domainIds.add(c.id);
          domainNames.add(c.name);
          if (c.parent) domainNames.add(c.parent);
          break;
        // An admin's update or delete may name its target (write.ts): it is found by name.
        case 'domain.update':
          if (c.id !== undefined) domainIds.add(c.id);
          domainNames.add(c.name);
          break;
        case 'domain.delete':
          if (c.id !== undefined) domainIds.add(c.id);
          domainNames.add(c.name);
          subtreeRoots.add(c.name);
          break;
        case 'entity.create':
          entityIds.add(c.id);
          domainNames.add(c.domain);
          keys[0].push(c.domain);
          keys[1].push(c.kind);
          keys[2].push(c.name);
          break;
        case 'entity.update':
        case 'entity.delete':
          domainNames.add(c.domain);
          if (c.id !== undefined) {
            entityIds.add(c.id);
            break;
          }
          keys[0].push(c.domain);
          keys[1].push(c.kind);
          keys[2].push(c.name);
          break;
      }
    }
    const roots = [...subtreeRoots];
    const domainRows: DomainRecord[] = await tx.query(
      `SELECT ${DOMAIN_COLUMNS} FROM domains
        WHERE id = ANY($1::uuid[])
           OR (deleted_at IS NULL AND (name = ANY($2::text[]) OR name = ANY($3::text[]) OR name LIKE ANY($4::text[])))`,
      [[...domainIds], [...domainNames], roots, roots.map((r) => `%.${likeEscape(r)}`)],
    );
    const subtree = domainRows
      .filter(
        (r) => r.deleted_at === null && roots.some((root) => r.name === root || r.name.endsWith(`.${root}`)),
      )
      .map((r) => r.name);
    const entityRows: EntityRecord[] = await tx.query(
      `SELECT ${ENTITY_COLUMNS} FROM entities
        WHERE id = ANY($1::uuid[])
           OR (deleted_at IS NULL AND domain = ANY($2::text[]))
           OR (deleted_at IS NULL AND (domain, kind, name) IN (SELECT * FROM unnest($3::text[], $4::text[], $5::text[])))`,
      [[...entityIds], subtree, ...keys],
    );
    const domains = new Map<string, Domain>();
    const entities = new Map<string, Entity>();
    const tombstones: Tombstone[] = [];
    for (const r of domainRows) {
      if (r.deleted_at) tombstones.push(domainTombstone(r, r.deleted_at));
      else domains.set(r.id, toDomain(r));
    }
    for (const r of entityRows) {
      if (r.deleted_at) tombstones.push(entityTombstone(r, r.deleted_at));
      else entities.set(r.id, toEntity(r));
    }
    return {
      view: new MemoryDirectory([...domains.values()], [...entities.values()], tombstones),
      domains,
      entities,
    };
  }

  /** Writes final states set-wise: tombstones before live rows, so a name freed in the batch can be reused. */
  async writeObjects(tx: EntityManager, domains: DomainWrite[], entities: EntityWrite[]): Promise<void> {
    const domainRows = domains.map((w) => domainRowJson(w.domain, w.deletedAt));
    const entityRows = entities.map((w) => entityRowJson(w.entity, w.deletedAt));
    for (const rows of tombstonesFirst(domainRows)) {
      if (rows.length === 0) continue;
      await tx.query(
        `INSERT INTO domains (${DOMAIN_COLUMNS})
         SELECT ${DOMAIN_COLUMNS} FROM jsonb_populate_recordset(NULL::domains, $1::jsonb)
         ON CONFLICT (id) DO UPDATE SET settings = EXCLUDED.settings, version = EXCLUDED.version,
           updated_at = EXCLUDED.updated_at, deleted_at = EXCLUDED.deleted_at`,
        [JSON.stringify(rows)],
      );
    }
    for (const rows of tombstonesFirst(entityRows)) {
      if (rows.length === 0) continue;
      await tx.query(
        `INSERT INTO entities (${ENTITY_COLUMNS})
         SELECT ${ENTITY_COLUMNS} FROM jsonb_populate_recordset(NULL::entities, $1::jsonb)
         ON CONFLICT (id) DO UPDATE SET attributes = EXCLUDED.attributes, version = EXCLUDED.version,
           updated_at = EXCLUDED.updated_at, deleted_at = EXCLUDED.deleted_at`,
        [JSON.stringify(rows)],
      );
    }
  }

  async appendChangeLog(tx: EntityManager, rows: ChangeLogWrite[]): Promise<void> {
    if (rows.length === 0) return;
    await tx.query(
      `INSERT INTO change_log (version, object_type, object_id, domain, op, at)
       SELECT version, object_type, object_id, domain, op, at FROM jsonb_populate_recordset(NULL::change_log, $1::jsonb)`,
      [JSON.stringify(rows)],
    );
  }

  /**
   * A batch's rows share their site, epoch and time: those go once as parameters and each row sends
   * only what is its own, as a positional array (a third less work for PostgreSQL than whole records).
   */
  async appendAudit(tx: EntityManager, rows: AuditEntry[]): Promise<void> {
    for (const run of runsOf(rows, (r) => `${r.site}\0${r.epoch ?? ''}\0${r.at}`)) {
      const { site, epoch, at } = run[0];
      await tx.query(
        `INSERT INTO audit_log (version, site, epoch, seq, actor, op, domain, change, at)
         SELECT (r->>0)::bigint, $2::text, $3::text, (r->>1)::bigint, r->>2, r->>3, r->>4, r->5, $4::timestamptz
           FROM jsonb_array_elements($1::jsonb) AS r`,
        [
          JSON.stringify(run.map((r) => [r.version, r.seq, r.actor, r.op, r.domain, r.change])),
          site,
          epoch,
          at,
        ],
      );
    }
  }

  /** The newest applied changes first, of one domain or of all. */
  /**
   * SPEC §5 /audit: applied changes newest first (by row id), `limit` of them, those older than the
   * row `beforeId` when given (keyset paging); each with its row id, the key of the next page.
   */
  async auditLog(
    domain: string | undefined,
    limit: number,
    beforeId?: string,
  ): Promise<Array<AuditEntry & { id: string }>> {
    const rows: Array<AuditRecord & { id: string }> = await this.db.query(
      `SELECT id, version, site, epoch, seq, actor, op, domain, change, at FROM audit_log
        WHERE ($1::text IS NULL OR domain = $1) AND ($3::bigint IS NULL OR id < $3)
        ORDER BY id DESC LIMIT $2`,
      [domain ?? null, limit, beforeId ?? null],
    );
    return rows.map((r) => ({
      id: String(r.id),
      version: String(r.version),
      site: r.site,
      epoch: r.epoch,
      seq: r.seq === null ? null : Number(r.seq),
      actor: r.actor,
      op: r.op,
      domain: r.domain,
      change: r.change,
      at: r.at.toISOString(),
    }));
  }

  async loadDigests(tx: EntityManager, domains: string[]): Promise<Map<string, DomainDigest>> {
    const rows: Array<{ domain: string; count: number; sum: string }> = await tx.query(
      `SELECT domain, count, sum::text AS sum FROM domain_digests WHERE domain = ANY($1::text[])`,
      [domains],
    );
    return new Map(rows.map((r) => [r.domain, { count: r.count, sum: r.sum }]));
  }

  /** Upserts the given digests and drops the rows of domains that are gone. */
  async writeDigests(tx: EntityManager, digests: Map<string, DomainDigest | null>): Promise<void> {
    const put: Array<{ domain: string } & DomainDigest> = [];
    const gone: string[] = [];
    for (const [domain, d] of digests) {
      if (d) put.push({ domain, ...d });
      else gone.push(domain);
    }
    if (put.length > 0) {
      await tx.query(
        `INSERT INTO domain_digests (domain, count, sum)
         SELECT domain, count, sum FROM jsonb_populate_recordset(NULL::domain_digests, $1::jsonb)
         ON CONFLICT (domain) DO UPDATE SET count = EXCLUDED.count, sum = EXCLUDED.sum`,
        [JSON.stringify(put)],
      );
    }
    if (gone.length > 0) await tx.query(`DELETE FROM domain_digests WHERE domain = ANY($1::text[])`, [gone]);
  }

  /**
   * SPEC §8 scale: adds each bucket's move to what it holds (sums mod 2^64) and drops the buckets
   * left empty among those, and every bucket of the domains that are gone.
   */
  async moveBuckets(
    tx: EntityManager,
    moves: Map<string, Map<number, DomainDigest>>,
    goneDomains: string[],
  ): Promise<void> {
    const rows = [...moves].flatMap(([domain, byBucket]) =>
      [...byBucket].map(([bucket, d]) => ({ domain, bucket, ...d })),
    );
    if (rows.length > 0) {
      await tx.query(
        `INSERT INTO digest_buckets (domain, bucket, count, sum)
         SELECT domain, bucket, count, sum FROM jsonb_to_recordset($1::jsonb)
           AS m(domain text, bucket smallint, count integer, sum numeric(20,0))
         ON CONFLICT (domain, bucket) DO UPDATE SET count = digest_buckets.count + EXCLUDED.count,
           sum = mod(digest_buckets.sum + EXCLUDED.sum, 18446744073709551616)`,
        [JSON.stringify(rows)],
      );
    }
    if (rows.length > 0 || goneDomains.length > 0) {
      await tx.query(
        `DELETE FROM digest_buckets
          WHERE domain = ANY($2::text[])
             OR (count = 0 AND (domain, bucket) IN (SELECT * FROM unnest($1::text[], $3::smallint[])))`,
        [rows.map((r) => r.domain), goneDomains, rows.map((r) => r.bucket)],
      );
    }
  }

  /** SPEC §8 change signal: delivered to every MDC replica's listeners when the transaction commits. */
  async notifyChange(tx: EntityManager, payload: string): Promise<void> {
    await tx.query(`SELECT pg_notify('dd_change', $1)`, [payload]);
  }

  // ---- reads of the admin API ----

  domainByName(name: string): Promise<Domain | undefined> {
    return this.liveDomain('name = $1', [name]);
  }

  /** Live domains by name after `after`; children of `parent` when given (null parent: first level). */
  async listDomains(parent: string | undefined, after: string | undefined, limit: number): Promise<Domain[]> {
    const rows: DomainRecord[] = await this.db.query(
      `SELECT ${DOMAIN_COLUMNS} FROM domains
        WHERE deleted_at IS NULL AND ($1::text IS NULL OR parent = $1) AND ($2::text IS NULL OR name COLLATE "C" > $2::text COLLATE "C")
        ORDER BY name COLLATE "C" LIMIT $3`,
      [parent ?? null, after ?? null, limit],
    );
    return rows.map(toDomain);
  }

  entityByKey(domain: string, kind: string, name: string): Promise<Entity | undefined> {
    return this.liveEntity('domain = $1 AND kind = $2 AND name = $3', [domain, kind, name]);
  }

  /** SPEC §5: ordered by kind, name; keyset paging after (kind, name). */
  async listEntities(
    domain: string,
    kind: string | undefined,
    after: string[] | undefined,
    limit: number,
  ): Promise<Entity[]> {
    const rows: EntityRecord[] = await this.db.query(
      `SELECT ${ENTITY_COLUMNS} FROM entities
        WHERE domain = $1 AND deleted_at IS NULL AND ($2::text IS NULL OR kind = $2)
          AND ($3::text IS NULL OR (kind COLLATE "C", name COLLATE "C") > ($3::text COLLATE "C", $4::text COLLATE "C"))
        ORDER BY kind COLLATE "C", name COLLATE "C" LIMIT $5`,
      [domain, kind ?? null, after?.[0] ?? null, after?.[1] ?? null, limit],
    );
    return rows.map(toEntity);
  }

  private async liveDomain(where: string, params: unknown[]): Promise<Domain | undefined> {
    const [row]: DomainRecord[] = await this.db.query(
      `SELECT ${DOMAIN_COLUMNS} FROM domains WHERE ${where} AND deleted_at IS NULL`,
      params,
    );
    return row ? toDomain(row) : undefined;
  }

  private async liveEntity(where: string, params: unknown[]): Promise<Entity | undefined> {
    const [row]: EntityRecord[] = await this.db.query(
      `SELECT ${ENTITY_COLUMNS} FROM entities WHERE ${where} AND deleted_at IS NULL`,
      params,
    );
    return row ? toEntity(row) : undefined;
  }
}

function likeEscape(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function tombstonesFirst<T extends { deleted_at: string | null }>(rows: T[]): T[][] {
  return [rows.filter((r) => r.deleted_at !== null), rows.filter((r) => r.deleted_at === null)];
}

/** Consecutive rows with the same key, in order (so the log keeps the order it was given). */
function runsOf<T>(rows: T[], key: (row: T) => string): T[][] {
  const runs: T[][] = [];
  let last: string | undefined;
  for (const row of rows) {
    const k = key(row);
    if (runs.length === 0 || k !== last) runs.push([]);
    runs[runs.length - 1].push(row);
    last = k;
  }
  return runs;
}
