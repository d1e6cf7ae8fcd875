import { Test } from '@nestjs/testing';
import type { EntityManager } from 'typeorm';
import { ClusterConfigService } from '@dd/admin-api';
import { strictFake } from '@dd/testing';
import { RetentionService } from './retention.service';
import { RetentionStore } from './retention.store';

const RETENTION_MS = 60_000;
const NOW = new Date('2026-03-01T12:00:00.000Z');
const CUTOFF = '2026-03-01T11:59:00.000Z';
/** The purge's transaction: the service only hands it on, so any use of it fails the test. */
const TX = strictFake<EntityManager>('tx');

async function retention(store: RetentionStore): Promise<RetentionService> {
  const moduleRef = await Test.createTestingModule({
    providers: [
      RetentionService,
      { provide: RetentionStore, useValue: store },
      {
        provide: ClusterConfigService,
        useValue: { current: { cluster: { tombstoneRetentionMs: RETENTION_MS } } },
      },
    ],
  }).compile();
  return moduleRef.get(RetentionService);
}

describe('RetentionService (SPEC §3: tombstones and the change log are kept for the retention)', () => {
  it('purges the change log through the newest version older than the retention and remembers how far', async () => {
    const store = strictFake<RetentionStore>('RetentionStore', {
      withPurgeLock: (work) => work(TX),
      logThrough: async () => '17',
      purgeLogThrough: async () => undefined,
      purgeOlderThan: async () => undefined,
    });

    expect(await (await retention(store)).purge(NOW)).toBe('17');

    expect(store.logThrough).toHaveBeenCalledWith(TX, CUTOFF);
    expect(store.purgeLogThrough).toHaveBeenCalledWith(TX, '17');
    expect(store.purgeOlderThan).toHaveBeenCalledWith(TX, CUTOFF);
  });

  it('keeps the whole change log when none of it is that old, and still purges old tombstones', async () => {
    const store = strictFake<RetentionStore>('RetentionStore', {
      withPurgeLock: (work) => work(TX),
      logThrough: async () => null,
      purgeOlderThan: async () => undefined,
    });

    expect(await (await retention(store)).purge(NOW)).toBeNull();

    expect(store.purgeOlderThan).toHaveBeenCalledWith(TX, CUTOFF);
  });

  it('purges nothing while another replica holds the purge lock', async () => {
    const store = strictFake<RetentionStore>('RetentionStore', { withPurgeLock: async () => null });

    expect(await (await retention(store)).purge(NOW)).toBeNull();
  });
});
