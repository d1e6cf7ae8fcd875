import { Test } from '@nestjs/testing';
import { ClusterConfigService, MetricsRegistry } from '@dd/admin-api';
import { type Change, targetPath } from '@dd/directory';
import { Fake, strictFake } from '@dd/testing';
import { Rejection, SiteCacheStore } from '../cache/site-cache.store';
import { SdcMetrics } from '../ops/sdc.metrics';
import { MdcLink } from './mdc-link';
import { REJECTIONS_KEPT } from './sync-cycle';
import { SyncStatusService } from './sync-status.service';
import { SyncScheduler } from './sync.scheduler';

function rejection(seq: number, change: Change): Rejection {
  return {
    seq,
    op: change.op,
    target: targetPath(change),
    reason: 'already_exists',
    message: 'lost the race',
    at: '2026-03-01T12:00:00.000Z',
    change,
    actor: 'ops',
    winner: null,
  };
}
const entityIn = (domain: string): Change => ({
  op: 'entity.create',
  id: `id-${domain}`,
  domain,
  kind: 'user',
  name: 'u',
  attributes: {},
});
const domainCreate = (name: string): Change => ({
  op: 'domain.create',
  id: `id-${name}`,
  name,
  parent: null,
  settings: {},
});

/** The site's rejection log, newest first. */
const LOG = [
  rejection(6, entityIn('globex')),
  rejection(5, entityIn('eu.acme')),
  rejection(4, domainCreate('acmex')),
  rejection(3, entityIn('globex')),
  rejection(2, domainCreate('acme')),
  rejection(1, entityIn('acme')),
];

/** SPEC §9: an admin with a scoped token sees only its scope in /sync/rejections. */
describe('SyncStatusService.rejections', () => {
  let service: SyncStatusService;
  let store: Fake<SiteCacheStore>;

  beforeEach(async () => {
    store = strictFake<SiteCacheStore>('SiteCacheStore', {
      rejections: async (limit) => LOG.slice(0, limit),
    });
    const moduleRef = await Test.createTestingModule({
      providers: [
        SyncStatusService,
        SdcMetrics,
        MetricsRegistry,
        { provide: SiteCacheStore, useValue: store },
        { provide: ClusterConfigService, useValue: strictFake<ClusterConfigService>('ClusterConfigService') },
        { provide: MdcLink, useValue: strictFake<MdcLink>('MdcLink') },
        { provide: SyncScheduler, useValue: strictFake<SyncScheduler>('SyncScheduler') },
      ],
    }).compile();
    service = moduleRef.get(SyncStatusService);
  });

  const seqs = async (scope: '*' | string[], limit: number) =>
    (await service.rejections(scope, limit)).items.map((r) => r.seq);

  it('shows an admin of scope * the newest `limit` rejections', async () => {
    expect(await seqs('*', 4)).toEqual([6, 5, 4, 3]);
    expect(store.rejections).toHaveBeenCalledWith(4);
  });

  it('shows a scoped admin only the rejections of the domains in its scope and below, by each change’s domain', async () => {
    expect(await seqs(['acme'], 100)).toEqual([5, 2, 1]);
    expect(await seqs(['globex', 'eu.acme'], 100)).toEqual([6, 5, 3]);
  });

  it('counts `limit` in what the scoped admin may see, reading the whole capped log', async () => {
    expect(await seqs(['acme'], 2)).toEqual([5, 2]);
    expect(store.rejections).toHaveBeenCalledWith(REJECTIONS_KEPT);
  });

  it('shows a scoped admin with no rejection in its scope an empty list', async () => {
    expect(await seqs(['initech'], 100)).toEqual([]);
  });
});
