import { Logger } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { Job } from 'bullmq';
import { MetricsRegistry } from '@dd/admin-api';
import { Fake, strictFake } from '@dd/testing';
import { SiteCacheStore } from '../cache/site-cache.store';
import { SdcMetrics } from '../ops/sdc.metrics';
import { MdcLink } from './mdc-link';
import { CycleProgress, CycleReport, SyncCycle } from './sync-cycle';
import { SyncProcessor } from './sync.processor';
import { coalesce, CycleJob, SyncScheduler } from './sync.scheduler';

/** SPEC §8: one cycle at a time per site, whatever the replicas; SPEC §6: a failed push retries on its own. */
describe('SyncProcessor (SPEC §6, §8)', () => {
  const report = (ok: boolean, error: string | null = null): CycleReport => ({
    ok,
    error,
    durationMs: 3,
    pushed: 0,
    rejected: 0,
    pulled: 0,
    repaired: 0,
    at: 'now',
  });

  let processor: SyncProcessor;
  let store: Fake<SiteCacheStore>;
  const statusWrites: string[] = [];
  const statusPlan = {
    setStatus: (field: string, value: string) => {
      statusWrites.push(`set ${field} ${JSON.parse(value).phase}`);
      return statusPlan;
    },
    clearStatus: (field: string) => {
      statusWrites.push(`clear ${field}`);
      return statusPlan;
    },
  };
  let cycle: Fake<SyncCycle>;
  let scheduler: Fake<SyncScheduler>;
  let link: Fake<MdcLink>;
  let events: string[];
  const job = (data: CycleJob | Record<string, never> = {}) =>
    strictFake<Job>('Job', { data, updateProgress: async () => undefined });

  async function build(options: {
    lockFreeAfter?: number;
    outcome?: CycleReport;
    queued?: number;
    stopping?: boolean;
    /** the site's pull cursor */
    cursor?: number;
  }) {
    events = [];
    let tries = 0;
    store = strictFake<SiteCacheStore>('SiteCacheStore', {
      tryCycleLock: async () => {
        events.push('try');
        return ++tries > (options.lockFreeAfter ?? 0);
      },
      renewCycleLock: async () => undefined,
      releaseCycleLock: async () => {
        events.push('release');
      },
      queueLength: async () => options.queued ?? 0,
      // the running cycle's progress in the site's status (`/sync/status` running)
      plan: () => statusPlan as never,
      commit: async () => 'ok' as const,
    });
    cycle = strictFake<SyncCycle>('SyncCycle', {
      run: async () => {
        events.push('cycle');
        return options.outcome ?? report(true);
      },
      pulledThrough: async (version: string) => {
        events.push(`pulled through ${version}?`);
        return Number(version) <= (options.cursor ?? 0);
      },
    });
    scheduler = strictFake<SyncScheduler>('SyncScheduler', {
      stopping: options.stopping ?? false,
      retryLater: () => undefined,
      resetRetry: () => undefined,
    });
    link = strictFake<MdcLink>('MdcLink', { noteCycle: () => undefined });
    const moduleRef = await Test.createTestingModule({
      providers: [
        SyncProcessor,
        SdcMetrics,
        MetricsRegistry,
        { provide: SiteCacheStore, useValue: store },
        { provide: SyncCycle, useValue: cycle },
        { provide: SyncScheduler, useValue: scheduler },
        { provide: MdcLink, useValue: link },
      ],
    }).compile();
    processor = moduleRef.get(SyncProcessor);
  }

  it('runs the cycle under the site’s cycle lock and releases it after', async () => {
    await build({});
    expect(await processor.process(job())).toMatchObject({ ok: true });
    expect(events).toEqual(['try', 'cycle', 'release']);
    expect(link.noteCycle).toHaveBeenCalledWith(expect.objectContaining({ ok: true }));
    expect(scheduler.resetRetry).toHaveBeenCalledTimes(1);
  });

  it('runs the full verify (scrub, manifest) for a periodic or on-demand cycle', async () => {
    await build({});
    await processor.process(job());
    await processor.process(job({ kind: 'full' }));
    expect(cycle.run.mock.calls.map((c) => c[1])).toEqual(['full', 'full']);
  });

  it('runs a light cycle (push, pull, root digest) for a change signal past the site’s cursor', async () => {
    await build({ cursor: 6 });
    expect(await processor.process(job({ kind: 'signal', version: '7' }))).toMatchObject({ ok: true });
    expect(events).toEqual(['try', 'pulled through 7?', 'cycle', 'release']);
    expect(cycle.run).toHaveBeenCalledWith(expect.any(Function), 'root');
  });

  it('runs a light cycle, always, for local writes waiting to be pushed', async () => {
    await build({ cursor: 7 });
    expect(await processor.process(job({ kind: 'push' }))).toMatchObject({ ok: true });
    expect(events).toEqual(['try', 'cycle', 'release']);
    expect(cycle.run).toHaveBeenCalledWith(expect.any(Function), 'root');
  });

  it('does nothing for a change signal the site has already pulled through', async () => {
    await build({ cursor: 7 });
    expect(await processor.process(job({ kind: 'signal', version: '7' }))).toBeNull();
    expect(events).toEqual(['try', 'pulled through 7?', 'release']);
    expect(link.noteCycle).not.toHaveBeenCalled();
    expect(scheduler.resetRetry).not.toHaveBeenCalled();
  });

  it('waits while another replica holds the lock, then runs its own cycle', async () => {
    await build({ lockFreeAfter: 3 });
    await processor.process(job());
    expect(events).toEqual(['try', 'try', 'try', 'try', 'cycle', 'release']);
  });

  it('releases the lock when the cycle throws', async () => {
    await build({});
    cycle.run.mockRejectedValueOnce(new Error('Redis went away'));
    await expect(processor.process(job())).rejects.toThrow('Redis went away');
    expect(events).toEqual(['try', 'release']);
  });

  it('retries on its own, with backoff, when a cycle failed and changes wait', async () => {
    await build({ outcome: report(false, 'mdc_unreachable'), queued: 3 });
    await processor.process(job());
    expect(scheduler.retryLater).toHaveBeenCalledTimes(1);
    expect(scheduler.resetRetry).not.toHaveBeenCalled();
    expect(link.noteCycle).toHaveBeenCalledWith(expect.objectContaining({ error: 'mdc_unreachable' }));
  });

  it('logs a failed cycle (SPEC §10): each new error, the same one again after 30 s, and the recovery', async () => {
    await build({ outcome: report(false, 'mdc_unreachable'), queued: 3 });
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    const now = jest.spyOn(Date, 'now');
    try {
      const runAt = async (ms: number, outcome: CycleReport) => {
        now.mockReturnValue(ms);
        cycle.run.mockResolvedValueOnce(outcome);
        await processor.process(job());
      };
      await runAt(1_000, report(false, 'mdc_unreachable'));
      await runAt(2_000, report(false, 'mdc_unreachable'));
      await runAt(31_000, report(false, 'mdc_unreachable'));
      await runAt(32_000, report(false, 'store_unavailable'));
      await runAt(33_000, report(true));
      await runAt(34_000, report(true));
      expect(
        warn.mock.calls.map(([fields, msg]) => [msg, (fields as { failures: number }).failures]),
      ).toEqual([
        ['sync cycle failed: mdc_unreachable', 1],
        ['sync cycle failed: mdc_unreachable', 3],
        ['sync cycle failed: store_unavailable', 1],
      ]);
      expect(log.mock.calls.map(([, msg]) => msg)).toEqual([
        'sync cycle ok again after 1 failed (store_unavailable)',
      ]);
    } finally {
      warn.mockRestore();
      log.mockRestore();
      now.mockRestore();
    }
  });

  it('does not retry a failed cycle with nothing queued: the period and the signal will do', async () => {
    await build({ outcome: report(false, 'mdc_unreachable'), queued: 0 });
    await processor.process(job());
    expect(scheduler.retryLater).not.toHaveBeenCalled();
  });

  it('stops waiting for the lock when the site is stopping', async () => {
    await build({ lockFreeAfter: Infinity, stopping: true });
    await expect(processor.process(job())).rejects.toThrow('stopping');
    expect(cycle.run).not.toHaveBeenCalled();
  });

  it('retries on its own while its store is away, so it converges once Redis is back', async () => {
    await build({ outcome: report(false, 'store_unavailable') });
    store.queueLength.mockRejectedValue(new Error('Command timed out'));
    await processor.process(job());
    expect(scheduler.retryLater).toHaveBeenCalledTimes(1);
    expect(store.queueLength).not.toHaveBeenCalled();
  });

  it('writes a long cycle’s progress to its job and to the site’s status (cleared after), and nothing for a short cycle', async () => {
    await build({});
    statusWrites.length = 0;
    const progress: CycleProgress = { phase: 'pull', pages: 2, objects: 700 };
    let finish = () => undefined as void;
    cycle.run.mockImplementationOnce(async (onProgress: (p: CycleProgress) => void) => {
      onProgress(progress);
      await new Promise<void>((resolve) => (finish = resolve));
      return report(true);
    });
    const long = job();
    jest.useFakeTimers();
    try {
      const done = processor.process(long);
      await jest.advanceTimersByTimeAsync(600);
      expect(long.updateProgress).toHaveBeenCalledWith(progress);
      finish();
      await done;
    } finally {
      jest.useRealTimers();
    }
    expect(statusWrites).toEqual(['set running pull', 'clear running']);
    const short = job();
    await processor.process(short);
    expect(short.updateProgress).not.toHaveBeenCalled();
    expect(statusWrites).toHaveLength(2);
  });
});

describe('triggers that share one pending cycle (SPEC §8)', () => {
  it('a full cycle covers a signal, whichever came first', () => {
    expect(coalesce({ kind: 'signal', version: '5' }, { kind: 'full' })).toEqual({ kind: 'full' });
    expect(coalesce({ kind: 'full' }, { kind: 'signal', version: '5' })).toEqual({ kind: 'full' });
  });

  it('a push covers a signal (it pulls too), and a full cycle covers a push', () => {
    expect(coalesce({ kind: 'signal', version: '5' }, { kind: 'push' })).toEqual({ kind: 'push' });
    expect(coalesce({ kind: 'push' }, { kind: 'signal', version: '5' })).toEqual({ kind: 'push' });
    expect(coalesce({ kind: 'push' }, { kind: 'full' })).toEqual({ kind: 'full' });
    expect(coalesce({ kind: 'full' }, { kind: 'push' })).toEqual({ kind: 'full' });
  });

  it('of two signals, the later one', () => {
    expect(coalesce({ kind: 'signal', version: '5' }, { kind: 'signal', version: '6' })).toEqual({
      kind: 'signal',
      version: '6',
    });
    expect(coalesce(undefined, { kind: 'signal', version: '5' })).toEqual({ kind: 'signal', version: '5' });
  });
});
