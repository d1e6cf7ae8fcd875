import { Test } from '@nestjs/testing';
import type { Job } from 'bullmq';
import { MetricsRegistry } from '@dd/admin-api';
import { Fake, strictFake } from '@dd/testing';
import { SiteCacheStore } from '../cache/site-cache.store';
import { SdcMetrics } from '../ops/sdc.metrics';
import { MdcLink } from './mdc-link';
import { CycleProgress, CycleReport, SyncCycle } from './sync-cycle';
import { SyncProcessor } from './sync.processor';
import { SyncScheduler } from './sync.scheduler';

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
  let cycle: Fake<SyncCycle>;
  let scheduler: Fake<SyncScheduler>;
  let link: Fake<MdcLink>;
  let events: string[];
  const job = () => strictFake<Job>('Job', { updateProgress: async () => undefined });

  async function build(options: {
    lockFreeAfter?: number;
    outcome?: CycleReport;
    queued?: number;
    stopping?: boolean;
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
    });
    cycle = strictFake<SyncCycle>('SyncCycle', {
      run: async () => {
        events.push('cycle');
        return options.outcome ?? report(true);
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

  it('writes a long cycle’s progress to its job, and nothing for a short cycle', async () => {
    await build({});
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
    const short = job();
    await processor.process(short);
    expect(short.updateProgress).not.toHaveBeenCalled();
  });
});
