import type { Queue } from 'bullmq';
import type { ClusterConfigService } from '@dd/admin-api';
import type { SiteCacheStore } from '../cache/site-cache.store';
import { PUSH_SOON_MS, SyncEvents, SyncScheduler } from './sync.scheduler';

/** SPEC §6: when a local write's push runs — at once, or with the retry while the MDC cannot be reached. */
describe('SyncScheduler.pushSoon', () => {
  let added: unknown[];
  let scheduler: SyncScheduler;

  beforeEach(() => {
    jest.useFakeTimers();
    added = [];
    const queue = {
      add: (_name: string, data: unknown) => (added.push(data), Promise.resolve()),
      on: () => queue,
    };
    scheduler = new SyncScheduler(
      queue as unknown as Queue,
      {} as SyncEvents,
      {} as SiteCacheStore,
      {} as ClusterConfigService,
    );
  });
  afterEach(() => {
    scheduler.onModuleDestroy();
    jest.useRealTimers();
  });

  it('queues one light push cycle for a burst of writes', () => {
    for (let i = 0; i < 50; i++) scheduler.pushSoon();
    jest.advanceTimersByTime(PUSH_SOON_MS);
    expect(added).toEqual([{ kind: 'push' }]);
  });

  it('adds no cycle per write while a retry is armed; the retry pushes them, then writes push at once again', () => {
    scheduler.retryLater();
    for (let i = 0; i < 50; i++) scheduler.pushSoon();
    jest.advanceTimersByTime(PUSH_SOON_MS);
    expect(added).toEqual([]);
    jest.advanceTimersByTime(250 + 20);
    expect(added).toEqual([{ kind: 'full' }]);
    scheduler.resetRetry();
    scheduler.pushSoon();
    jest.advanceTimersByTime(PUSH_SOON_MS);
    expect(added).toEqual([{ kind: 'full' }, { kind: 'push' }]);
  });

  it('pushes at once after a cycle goes through while a long retry is still armed (the MDC came back)', () => {
    for (let i = 0; i < 6; i++) scheduler.retryLater(); // armed once; later calls only while armed
    jest.advanceTimersByTime(250 + 20); // the first retry fires: 250 ms
    scheduler.retryLater(); // that cycle failed too: the next in 500 ms
    scheduler.resetRetry(); // the reconnect's cycle went through
    scheduler.pushSoon();
    jest.advanceTimersByTime(PUSH_SOON_MS);
    expect(added).toEqual([{ kind: 'full' }, { kind: 'push' }]);
    jest.advanceTimersByTime(10_000);
    expect(added).toEqual([{ kind: 'full' }, { kind: 'push' }]);
  });
});
