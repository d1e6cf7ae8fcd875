import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { PullResponse, PushResponse, QueuedChange } from '../libs/sync-protocol/src';
import { MAX_PUSH_BATCH } from '../libs/sync-protocol/src/validate';
import { TestCluster } from '../test/harness/cluster';
import { noChangeCycles } from './cycles';
import type { Row } from './report';
import { ms, perSecond } from './stats';

const A = 'site-a';
/** The writer: its SDC stays cut off for the whole run, so the bench pushes as site-b in its place. */
const WRITER = 'site-b';
const DOMAIN = 'bulk';

/**
 * Issue 14: a pulled page costs a fixed number of Redis round trips, so a site applies what it pulls
 * far faster than the MDC writes it (SPEC §7 holds the MDC's push to ≥ 10000 changes/s): a site back
 * from an outage catches up at ≥ 20000 changes/s.
 */
const PULL_TARGET_PER_S = 20_000;
/** SPEC §8 / issue 14: a no-change cycle ≤ 20 ms, growing at most 1.5× from 10k to 1M entities. */
const NO_CHANGE_GROWTH = 1.5;
const NO_CHANGE_MAX_MS = 20;
const CATCH_UP_GIVE_UP_MS = 60_000;

/**
 * The pull rows, on a cluster of their own (a fresh cache at site-a, so its size is what the row says):
 * `bulk` served at site-a and site-b, no periodic cycle. The bench writes at the MDC as site-b.
 */
export class PullScenarios {
  private readonly epoch = randomUUID();
  private seq = 0;
  private names = 0;

  private constructor(
    private readonly cluster: TestCluster,
    private readonly rows: Row[],
  ) {}

  static async start(rows: Row[]): Promise<PullScenarios> {
    const cluster = await TestCluster.start('bench-pull', {
      zones: [{ domain: DOMAIN, sites: [A, WRITER] }],
      sdcEnv: { SYNC_INTERVAL_MS: '600000' },
    });
    return new PullScenarios(cluster, rows);
  }

  get running(): TestCluster {
    return this.cluster;
  }

  async setUp(): Promise<void> {
    this.cluster.cut(WRITER);
    const res = await this.cluster.admin(this.cluster.master).post('/domains', { name: DOMAIN });
    if (res.status !== 201)
      throw new Error(`cannot create ${DOMAIN}: ${res.status} ${JSON.stringify(res.body)}`);
    await this.writeAtMdc(1000);
    const { lastCycle } = await this.cluster.sync(A);
    if (!lastCycle.ok) throw new Error(`first cycle at ${A}: ${JSON.stringify(lastCycle)}`);
  }

  /**
   * 1. No-change cycles at site-a with about 1k entities cached (the reference), then 20000 creates at
   * the MDC while site-a is cut off, the link back and one `POST /sync/run` at site-a: changes applied
   * per second until site-a's cursor is at the MDC's head, beside the MDC serving the same pages alone
   * (signed pulls, as site-a makes them); then no-change cycles again with 21k entities cached.
   */
  async catchUp(changes: number, cycles: number): Promise<void> {
    const small = await noChangeCycles(this.cluster, A, cycles);
    const from = (await this.cluster.status(A)).cursor as string;
    this.cluster.cut(A);
    let head: string;
    let serving: number;
    try {
      await this.writeAtMdc(changes);
      ({ head, ms: serving } = await this.pullAll(from, changes));
    } finally {
      this.cluster.restore(A);
    }
    const start = performance.now();
    const run = await this.cluster.admin(A).post('/sync/run', {});
    if (run.status !== 200 && run.status !== 202) throw new Error(`sync at ${A}: ${run.status}`);
    for (;;) {
      if ((await this.cluster.status(A)).cursor === head) break;
      if (performance.now() - start > CATCH_UP_GIVE_UP_MS)
        throw new Error(`${A} not caught up after ${CATCH_UP_GIVE_UP_MS} ms`);
      await sleep(10);
    }
    const took = performance.now() - start;
    const rate = (changes / took) * 1000;
    this.rows.push({
      metric: `pull: ${changes} entity creates at the MDC → one POST /sync/run at ${A} until caught up`,
      measured:
        `${ms(took)} = ${perSecond(rate)} ` +
        `(the MDC serving the same pages alone: ${ms(serving)} = ${perSecond((changes / serving) * 1000)})`,
      target: `≥ ${perSecond(PULL_TARGET_PER_S)}`,
      ok: rate >= PULL_TARGET_PER_S,
    });
    const large = await noChangeCycles(this.cluster, A, cycles);
    const total = 1000 + changes;
    this.rows.push({
      metric: `no-change cycle at ${A} (POST /sync/run, p50 of ${cycles}): 1k vs ${Math.round(total / 1000)}k entities cached`,
      measured: `${ms(small)} vs ${ms(large)}`,
      target: `≤ ${NO_CHANGE_MAX_MS} ms and ≤ ${NO_CHANGE_GROWTH}× the 1k figure`,
      ok: large <= NO_CHANGE_MAX_MS && large <= NO_CHANGE_GROWTH * small,
    });
  }

  /** Signed pulls from `from` as site-a makes them, to the head; must return `changes` changes. */
  private async pullAll(from: string, changes: number): Promise<{ head: string; ms: number }> {
    const caller = this.cluster.signedCaller(A);
    let cursor = from;
    let seen = 0;
    const start = performance.now();
    for (;;) {
      const res = await caller.call<PullResponse>('POST', '/sync/v1/pull', { cursor });
      if (res.status !== 200 || res.body.reload)
        throw new Error(`pull: ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
      seen += res.body.changes.length;
      cursor = res.body.cursor;
      if (!res.body.more) break;
    }
    if (seen !== changes) throw new Error(`pulled ${seen} changes, not ${changes}`);
    return { head: cursor, ms: performance.now() - start };
  }

  /** `count` entity creates in `bulk`, pushed as the writer in full batches; every one applied. */
  private async writeAtMdc(count: number): Promise<void> {
    const caller = this.cluster.signedCaller(WRITER);
    for (let done = 0; done < count; done += MAX_PUSH_BATCH) {
      const at = new Date().toISOString();
      const changes: QueuedChange[] = Array.from({ length: Math.min(MAX_PUSH_BATCH, count - done) }, () => {
        const name = `bulk-${++this.names}`;
        return {
          seq: ++this.seq,
          change: {
            op: 'entity.create',
            id: randomUUID(),
            domain: DOMAIN,
            kind: 'user',
            name,
            attributes: { n: this.names },
          },
          actor: 'bench',
          at,
        };
      });
      const res = await caller.call<PushResponse>('POST', '/sync/v1/push', { epoch: this.epoch, changes });
      if (res.status !== 200)
        throw new Error(`push: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
      const refused = res.body.verdicts.find((v) => v.status !== 'applied');
      if (refused) throw new Error(`push: ${JSON.stringify(refused).slice(0, 300)}`);
    }
  }
}

function sleep(msToWait: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, msToWait));
}
