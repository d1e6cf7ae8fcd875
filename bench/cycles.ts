import { performance } from 'node:perf_hooks';
import type { TestCluster } from '../test/harness/cluster';
import { median } from './stats';

/** The p50 wall time of `POST /sync/run` at `site` with nothing to do (after 2 warm-up cycles); every cycle must pull and repair nothing. */
export async function noChangeCycles(cluster: TestCluster, site: string, cycles: number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < cycles + 2; i++) {
    const start = performance.now();
    const { lastCycle } = await cluster.sync(site);
    if (!lastCycle.ok || lastCycle.pulled !== 0 || lastCycle.repaired !== 0)
      throw new Error(`a no-change cycle at ${site}: ${JSON.stringify(lastCycle)}`);
    if (i >= 2) samples.push(performance.now() - start);
  }
  return median(samples);
}
