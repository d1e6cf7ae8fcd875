import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import Redis from 'ioredis';
import {
  addElement,
  bucketOf,
  DIGEST_BUCKETS,
  DomainDigest,
  elementHash,
  EMPTY_DIGEST,
  Entity,
  sumDigests,
} from '../libs/directory/src';
import type { SnapshotResponse } from '../libs/sync-protocol/src';
import { TestCluster } from '../test/harness/cluster';
import { withDb } from '../test/harness/domaindb';
import type { Reply } from '../test/harness/http';
import { noChangeCycles } from './cycles';
import type { Row } from './report';
import { ms, perSecond } from './stats';

const A = 'site-a';
const ZONE = 'huge';

/** SPEC §8 / issue 14 targets. */
const NO_CHANGE_MAX_MS = 20;
const NO_CHANGE_GROWTH = 1.5;
const BOOTSTRAP_TARGET_MS: Record<number, number> = { 100_000: 10_000, 1_000_000: 100_000 };
const RSS_TARGET_MIB = 256;
const REPAIR_SHARE_MAX = 0.01;
/** rows inserted per statement when seeding DomainDB */
const SEED_CHUNK = 10_000;
/** no-change cycles whose MDC CPU time is summed, for the sites-per-MDC sizing row */
const SIZING_CYCLES = 100;
/** the default cycle period a site's no-change cycle recurs at (SPEC §4 `cluster.syncIntervalMs`) */
const DEFAULT_PERIOD_MS = 20_000;

/**
 * The scale table (issue 14): a zone `huge` served by site-a grown to 10k, 100k and 1M entities.
 * At each size site-a starts as a new site would — its Redis flushed, the SDC process restarted — and
 * one `POST /sync/run` loads the zone (time, the SDC's peak RSS, bytes through its link to the MDC;
 * beside it the MDC serving the same snapshot pages alone); then no-change cycles. At 1M, one entity
 * edited behind the site's back is repaired and the bytes that moved are set against the load's.
 *
 * DomainDB is seeded with SQL (entities, their digests and buckets computed here with the MDC's own
 * functions, the counter moved past them), as bulk provisioning through the push would take minutes
 * at 1M; the site reads them through the protocol like any others.
 */
export class ScaleScenarios {
  private seeded = 0;
  /** the zone's bucket digests and the record's hash, kept as the seed goes */
  private readonly buckets = new Map<number, DomainDigest>();
  private recordHash = 0n;
  private noChange10k = 0;
  private loadBytes = 0;

  private constructor(
    private readonly cluster: TestCluster,
    private readonly rows: Row[],
  ) {}

  static async start(rows: Row[]): Promise<ScaleScenarios> {
    const cluster = await TestCluster.start('bench-scale', {
      sites: ['master', A],
      zones: [{ domain: ZONE, sites: [A] }],
      sdcEnv: {
        SYNC_INTERVAL_MS: '600000',
        ...(process.env.SNAPSHOT_PAGE ? { SNAPSHOT_PAGE: process.env.SNAPSHOT_PAGE } : {}),
      },
    });
    return new ScaleScenarios(cluster, rows);
  }

  get running(): TestCluster {
    return this.cluster;
  }

  async setUp(): Promise<void> {
    const res = await this.cluster.admin(this.cluster.master).post('/domains', { name: ZONE });
    if (res.status !== 201) throw new Error(`cannot create ${ZONE}: ${res.status}`);
    await withDb(this.cluster.mdcDb.url, async (db) => {
      const { rows } = await db.query(
        `SELECT id, name, parent, settings, version::text AS version FROM domains WHERE name = $1`,
        [ZONE],
      );
      const d = rows[0];
      this.recordHash = elementHash({ ...d, createdAt: '', updatedAt: '' });
    });
  }

  /** Grows the zone to `size` entities, then a new site loads it and idles. */
  async at(size: number, cycles: number): Promise<void> {
    await this.seedTo(size);
    const load = await this.bootstrap();
    const reference = await this.mdcServingAlone();
    const label = size >= 1_000_000 ? `${size / 1_000_000}M` : `${size / 1000}k`;
    const target = BOOTSTRAP_TARGET_MS[size];
    this.rows.push({
      metric: `bootstrap: a new ${A} loads a ${label}-entity zone (one POST /sync/run; SDC peak RSS)`,
      measured:
        `${ms(load.ms)} = ${perSecond((size / load.ms) * 1000)}, ` +
        `peak RSS ${load.rssMiB.toFixed(0)} MiB (idle before: ${load.idleMiB.toFixed(0)} MiB), ` +
        `${(load.bytes / 2 ** 20).toFixed(0)} MiB from the MDC ` +
        `(the MDC serving the same pages alone: ${ms(reference)})`,
      target: target ? `≤ ${ms(target)}, RSS < ${RSS_TARGET_MIB} MiB` : 'report only',
      ok: target ? load.ms <= target && load.rssMiB < RSS_TARGET_MIB : null,
    });
    this.loadBytes = load.bytes;
    const perEntity = load.redisBytes / size;
    this.rows.push({
      metric: `sizing: ${A}'s Redis memory per cached entity, ${label} entities (used_memory after the load − before)`,
      measured:
        `${perEntity.toFixed(0)} B per entity (+${(load.redisBytes / 2 ** 20).toFixed(0)} MiB; ` +
        `each entity's attributes ≈ 70 B of JSON) → 1M entities ≈ ${((perEntity * 1e6) / 2 ** 30).toFixed(2)} GiB`,
      target: 'report only (README "Scaling out")',
      ok: null,
    });
    const idle = await noChangeCycles(this.cluster, A, cycles);
    if (size === 10_000) this.noChange10k = idle;
    this.rows.push({
      metric: `no-change cycle at ${A}, ${label} entities in scope (POST /sync/run, p50 of ${cycles})`,
      measured: size === 10_000 ? ms(idle) : `${ms(idle)} (10k: ${ms(this.noChange10k)})`,
      target: `≤ ${NO_CHANGE_MAX_MS} ms` + (size === 10_000 ? '' : `, ≤ ${NO_CHANGE_GROWTH}× the 10k figure`),
      ok: idle <= NO_CHANGE_MAX_MS && (size === 10_000 || idle <= NO_CHANGE_GROWTH * this.noChange10k),
    });
    const mdcCpu = await this.mdcCpuPerCycle();
    this.rows.push({
      metric: `sizing: the MDC's CPU per no-change site cycle, ${label} entities in scope (${SIZING_CYCLES} POST /sync/run)`,
      measured:
        `${ms(mdcCpu)} CPU (pull + manifest root, signed) → one MDC core serves ≈ ` +
        `${Math.floor(DEFAULT_PERIOD_MS / mdcCpu).toLocaleString('en')} idle sites at the default ` +
        `${DEFAULT_PERIOD_MS / 1000} s cycle (PostgreSQL's own CPU not counted)`,
      target: 'report only (README "Scaling out")',
      ok: null,
    });
  }

  /** The MDC process's CPU time (user + system, /proc) per no-change cycle of site-a. */
  private async mdcCpuPerCycle(): Promise<number> {
    const pid = this.cluster.process(this.cluster.master).pid!;
    const before = cpuMs(pid);
    for (let i = 0; i < SIZING_CYCLES; i++) {
      const { lastCycle } = await this.cluster.sync(A);
      if (!lastCycle.ok || lastCycle.pulled !== 0)
        throw new Error(`not a no-change cycle: ${JSON.stringify(lastCycle)}`);
    }
    return (cpuMs(pid) - before) / SIZING_CYCLES;
  }

  /**
   * One entity of the zone edited in site-a's cache behind its back; the scrub's cursor set to that
   * entity's bucket (the rolling scrub gets there within ⌈scope / budget⌉ cycles; this is the cycle
   * that does); one full cycle: bytes through site-a's link, against the zone's whole load.
   */
  async repairOne(): Promise<void> {
    const redis = new Redis(this.cluster.redisUrl(A));
    try {
      const key = `{${A}}:ent:${ZONE}`;
      const field = 'user\u0000u4242';
      const cached = JSON.parse((await redis.hget(key, field))!);
      const truth = cached.entity as Entity;
      cached.entity = { ...truth, attributes: { hand: 'edited' } };
      await redis.hset(key, field, JSON.stringify(cached));
      // the rolling scrub's place set to the start of that entity's bucket (it gets there within
      // ⌈scope / budget⌉ cycles; these are the cycles that scan that bucket, a chunk each)
      const inside = { bucket: bucketOf(truth.id), lastField: '', acc: { count: 0, sum: '0' }, held: null };
      await redis.hset(`{${A}}:meta`, 'scrub', `${ZONE}\u0000${JSON.stringify(inside)}`);
      const relay = this.cluster.relay(A);
      relay.bytesDown = 0;
      let lastCycle: any;
      let cycles = 0;
      for (; cycles < 100;) {
        cycles += 1;
        ({ lastCycle } = await this.cluster.sync(A));
        if (!lastCycle.ok || lastCycle.repaired > 0) break;
      }
      const bytes = relay.bytesDown;
      const back = JSON.parse((await redis.hget(key, field))!).entity;
      if (!lastCycle.ok || JSON.stringify(back.attributes) !== JSON.stringify(truth.attributes))
        throw new Error(`not repaired: ${JSON.stringify(lastCycle)}`);
      const share = bytes / this.loadBytes;
      this.rows.push({
        metric: `repair of one entity changed in the ${this.seeded / 1_000_000}M-entity domain (one cycle)`,
        measured:
          `${(bytes / 1024).toFixed(0)} KiB = ${(share * 100).toFixed(2)} % of the domain's load ` +
          `(${(this.loadBytes / 2 ** 20).toFixed(0)} MiB); ${lastCycle.pulled} entities fetched; ` +
          `${cycles} cycles, the scrub's chunks through that bucket and the repair (${ms(lastCycle.durationMs)})`,
        target: `≤ ${REPAIR_SHARE_MAX * 100} % of the domain`,
        ok: share <= REPAIR_SHARE_MAX,
      });
    } finally {
      redis.disconnect();
    }
  }

  /** Entities u<seeded>… inserted straight into DomainDB, with digests and buckets kept right. */
  private async seedTo(size: number): Promise<void> {
    await withDb(this.cluster.mdcDb.url, async (db) => {
      const { rows } = await db.query(`SELECT value::text AS v FROM version_counter WHERE id = 1`);
      const version = (BigInt(rows[0].v) + 1n).toString();
      const at = new Date().toISOString();
      let added = EMPTY_DIGEST;
      while (this.seeded < size) {
        const n = Math.min(SEED_CHUNK, size - this.seeded);
        const ids: string[] = [];
        const names: string[] = [];
        const attributes: string[] = [];
        for (let i = 0; i < n; i++) {
          const k = this.seeded + i;
          const e: Entity = {
            id: randomUUID(),
            domain: ZONE,
            kind: 'user',
            name: `u${k}`,
            attributes: { n: k, mail: `u${k}@huge.example`, phone: `+1555${String(k).padStart(7, '0')}` },
            version,
            createdAt: at,
            updatedAt: at,
          };
          const h = elementHash(e);
          const b = bucketOf(e.id);
          this.buckets.set(b, addElement(this.buckets.get(b) ?? EMPTY_DIGEST, h));
          added = addElement(added, h);
          ids.push(e.id);
          names.push(e.name);
          attributes.push(JSON.stringify(e.attributes));
        }
        await db.query(
          `INSERT INTO entities (id, domain, kind, name, attributes, version, created_at, updated_at)
           SELECT id, $4, 'user', name, attributes, $5, $6, $6
             FROM unnest($1::uuid[], $2::text[], $3::jsonb[]) AS t(id, name, attributes)`,
          [ids, names, attributes, ZONE, version, at],
        );
        this.seeded += n;
      }
      await db.query(`DELETE FROM digest_buckets WHERE domain = $1`, [ZONE]);
      const buckets = [...this.buckets].map(([bucket, d]) => ({ domain: ZONE, bucket, ...d }));
      await db.query(
        `INSERT INTO digest_buckets (domain, bucket, count, sum)
         SELECT domain, bucket, count, sum FROM jsonb_to_recordset($1::jsonb)
           AS t(domain text, bucket smallint, count integer, sum numeric)`,
        [JSON.stringify(buckets)],
      );
      const digest = addElement(sumDigests(this.buckets.values()), this.recordHash);
      await db.query(`UPDATE domain_digests SET count = $2, sum = $3 WHERE domain = $1`, [
        ZONE,
        digest.count,
        digest.sum,
      ]);
      await db.query(`UPDATE version_counter SET value = $1 WHERE id = 1`, [version]);
      // the version in the log too (one row: the zone's record), so a site's cursor reaches the head
      await db.query(
        `INSERT INTO change_log (version, object_type, object_id, domain, op, at)
         SELECT $1, 'domain', id, name, 'put', now() FROM domains WHERE name = $2`,
        [version, ZONE],
      );
      if (this.buckets.size !== DIGEST_BUCKETS && size >= 10_000) throw new Error('buckets missing');
    });
  }

  /** A new site: Redis flushed, the SDC restarted, one POST /sync/run until it is loaded. */
  private async bootstrap(): Promise<{
    ms: number;
    rssMiB: number;
    idleMiB: number;
    bytes: number;
    redisBytes: number;
  }> {
    await this.cluster.process(A).stop();
    await this.cluster.flushRedis(A);
    const usedBefore = await usedMemory(this.cluster.redisUrl(A));
    const proc = await this.cluster.restart(A); // a process of its own: its peak RSS is this load's
    const idleMiB = memoryMiB(proc.pid!, 'VmRSS');
    const relay = this.cluster.relay(A);
    relay.bytesDown = 0;
    const start = performance.now();
    const res = await this.cluster.admin(A).post('/sync/run?timeoutMs=300000', {});
    const took = performance.now() - start;
    if (res.status !== 200 || !res.body.lastCycle?.ok)
      throw new Error(`bootstrap: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
    const count = await this.cluster.admin(A).get(`/domains/${ZONE}/entities?limit=1`);
    if (count.headers.get('x-served-by') !== A) throw new Error(`${ZONE} not served at ${A} after the load`);
    const redisBytes = (await usedMemory(this.cluster.redisUrl(A))) - usedBefore;
    return { ms: took, rssMiB: memoryMiB(proc.pid!, 'VmHWM'), idleMiB, bytes: relay.bytesDown, redisBytes };
  }

  /** The MDC serving the zone's snapshot pages alone (signed calls as site-a, one after another). */
  private async mdcServingAlone(): Promise<number> {
    const caller = this.cluster.signedCaller(A);
    const start = performance.now();
    let after: SnapshotResponse['next'] = null;
    let first = true;
    for (;;) {
      const res: Reply<SnapshotResponse> = await caller.call<SnapshotResponse>('POST', '/sync/v1/snapshot', {
        tree: true,
        ...(first ? {} : { after }),
      });
      if (res.status !== 200) throw new Error(`snapshot: ${res.status}`);
      first = false;
      after = res.body.next;
      if (!after) break;
    }
    return performance.now() - start;
  }
}

/** The Redis server's `used_memory` (bytes): the whole server's, so read before and after on a quiet one. */
async function usedMemory(url: string): Promise<number> {
  const redis = new Redis(url);
  try {
    return Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? NaN);
  } finally {
    redis.disconnect();
  }
}

/** A process's CPU time so far (user + system, from /proc/<pid>/stat), in ms. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  // utime and stime are fields 14 and 15 of stat, in clock ticks (100 per second on Linux)
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** A process's memory figure from /proc (VmRSS now, VmHWM its peak), in MiB. */
function memoryMiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN) / 1024;
}
