import { Test } from '@nestjs/testing';
import {
  Caller,
  ClusterConfigService,
  QueueFullError,
  RefusedError,
  SITE_ENV,
  StoreUnavailableError,
} from '@dd/admin-api';
import type { Change, Domain, Write } from '@dd/directory';
import { Fake, siteEnv, strictFake, writeSiteConfig } from '@dd/testing';
import type { CachedDomain } from '../cache/cache-plan';
import { QueueEntry, Rejection, SiteCacheStore } from '../cache/site-cache.store';
import type { CycleReport } from '../sync/sync-cycle';
import { SyncScheduler } from '../sync/sync.scheduler';
import { LocalWrite, LocalWrites, LocalWriteResult } from './local-writes';
import { SdcDirectoryService } from './sdc-directory.service';

/** SPEC §5, §6: the admin API over a work site's cache, with strict fakes of the store, the write path and the scheduler. */
describe('SdcDirectoryService (SPEC §5, §6)', () => {
  const config = writeSiteConfig({
    sites: [{ id: 'master', role: 'master' }, { id: 'site-a' }],
    zones: [{ domain: 'acme', sites: ['site-a'] }],
  });
  const env = siteEnv('site-a', config.file);
  const acme: Domain = {
    id: 'd-acme',
    name: 'acme',
    parent: null,
    settings: { plan: 'gold' },
    version: '7',
    createdAt: 'then',
    updatedAt: 'then',
  };
  const ops: Caller = { admin: { name: 'ops', scope: '*' }, waitForMdc: false };
  const waiting: Caller = { ...ops, waitForMdc: true };
  const entry = (change: Change, seq = 12): QueueEntry => ({
    seq,
    change,
    actor: 'ops',
    at: 'now',
    version: `7+site-a.${seq}`,
    ids: [change.id],
    domains: ['acme'],
  });

  let service: SdcDirectoryService;
  let store: Fake<SiteCacheStore>;
  let writes: Fake<LocalWrites>;
  let scheduler: Fake<SyncScheduler>;
  let configService: ClusterConfigService;

  async function build(given: {
    submit?: (write: Write) => Promise<LocalWriteResult>;
    runNow?: SyncScheduler['runNow'];
    queue?: QueueEntry[];
    rejections?: Rejection[];
    pending?: string[];
  }) {
    const cached: CachedDomain = { domain: acme, scoped: true, h: '' };
    store = strictFake<SiteCacheStore>('SiteCacheStore', {
      domain: async (name) => (name === 'acme' ? cached : undefined),
      pendingIds: async (ids) => new Set(ids.filter((id) => given.pending?.includes(id))),
      queueHead: async () => given.queue ?? [],
      rejections: async () => given.rejections ?? [],
      domainsById: async () => new Map([[acme.id, cached]]),
    });
    const submit = given.submit;
    writes = strictFake<LocalWrites>('LocalWrites', {
      queueCapacity: () => 10000,
      ...(submit
        ? { submitEach: (all: LocalWrite[]) => Promise.allSettled(all.map((w) => submit(w.write))) }
        : {}),
    });
    scheduler = strictFake<SyncScheduler>('SyncScheduler', {
      pushSoon: () => undefined,
      ...(given.runNow ? { runNow: given.runNow } : {}),
    });
    const moduleRef = await Test.createTestingModule({
      providers: [
        SdcDirectoryService,
        ClusterConfigService,
        { provide: SITE_ENV, useValue: env },
        { provide: SiteCacheStore, useValue: store },
        { provide: LocalWrites, useValue: writes },
        { provide: SyncScheduler, useValue: scheduler },
      ],
    }).compile();
    service = moduleRef.get(SdcDirectoryService);
    configService = moduleRef.get(ClusterConfigService);
  }
  afterEach(() => configService?.onModuleDestroy());

  const accepted = async (write: Write): Promise<LocalWriteResult> => {
    const change = { ...write, id: write.id ?? 'd-acme' } as Change;
    return { verdict: { ok: true, effects: [] }, entry: entry(change), after: acme };
  };

  it('applies a write locally, answers pending and pushes it soon', async () => {
    await build({ submit: accepted, pending: ['d-acme'] });
    const written = await service.patchDomain(ops, 'acme', { tz: 'UTC' }, { ifMatch: '7' });
    expect(writes.submitEach).toHaveBeenCalledWith([
      { write: { op: 'domain.update', name: 'acme', patch: { tz: 'UTC' } }, actor: 'ops', ifMatch: '7' },
    ]);
    expect(written).toEqual({ body: { ...acme, pending: true }, syncState: 'pending' });
    expect(scheduler.pushSoon).toHaveBeenCalledTimes(1);
  });

  it('answers a change the rules refuse with its code and the winner, and pushes nothing', async () => {
    await build({
      submit: async () => ({
        verdict: { ok: false, code: 'already_exists', message: 'user "alice" already exists', winner: null },
      }),
    });
    const refusal = await service
      .createEntity(ops, 'acme', { kind: 'user', name: 'alice', attributes: {} })
      .catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(RefusedError);
    expect(refusal).toMatchObject({ verdict: { code: 'already_exists' } });
    expect(scheduler.pushSoon).not.toHaveBeenCalled();
  });

  it('lets a full submit queue through as QueueFullError (503 queue_full in the filter)', async () => {
    await build({
      submit: async () => ({ queueFull: true }),
    });
    await expect(service.deleteDomain(ops, 'acme', false, {})).rejects.toBeInstanceOf(QueueFullError);
  });

  const update: Change = { op: 'domain.update', id: 'd-acme', name: 'acme', patch: { a: 1 } };

  it('answers 503 store_unavailable for a write its Redis replicas did not confirm, and pushes it all the same (SPEC §11)', async () => {
    await build({
      submit: async () => ({
        verdict: { ok: true, effects: [] },
        entry: entry(update),
        after: acme,
        unconfirmed: { reached: 0, wanted: 1, timeoutMs: 1000 },
      }),
    });
    const unconfirmed = await service.patchDomain(ops, 'acme', { a: 1 }, {}).catch((e: unknown) => e);
    expect(unconfirmed).toBeInstanceOf(StoreUnavailableError);
    expect((unconfirmed as Error).message).toMatch(
      /kept locally and is queued for the MDC, but only 0 of 1 Redis replicas confirmed it within 1000 ms/,
    );
    expect(scheduler.pushSoon).toHaveBeenCalledTimes(1);
  });

  it('answers 404 for a domain it only knows as a tree entry', async () => {
    await build({});
    await expect(service.getDomain(ops, 'globex')).rejects.toMatchObject({ code: 'domain_not_found' });
  });

  describe('X-Wait-For: mdc', () => {
    const cycled: CycleReport = {
      ok: true,
      error: null,
      durationMs: 5,
      pushed: 1,
      rejected: 0,
      pulled: 1,
      repaired: 0,
      at: 'now',
    };

    it('answers synced once a cycle pushed the change and the MDC applied it', async () => {
      await build({ submit: accepted, runNow: async () => ({ finished: true, report: cycled }), queue: [] });
      const written = await service.patchDomain(waiting, 'acme', { a: 1 }, {});
      expect(written.syncState).toBe('synced');
      expect(scheduler.runNow).toHaveBeenCalledTimes(1);
      expect(scheduler.pushSoon).not.toHaveBeenCalled();
    });

    it('answers with the MDC’s refusal when the cycle recorded one for this change', async () => {
      const rejection: Rejection = {
        seq: 12,
        op: 'domain.update',
        target: 'acme',
        reason: 'domain_not_found',
        message: 'domain "acme" was deleted',
        at: 'now',
        change: update,
        actor: 'ops',
        winner: { id: 'd-acme', deletedAt: 'now' },
      };
      await build({
        submit: accepted,
        runNow: async () => ({ finished: true, report: cycled }),
        rejections: [rejection],
      });
      const refusal = await service.patchDomain(waiting, 'acme', { a: 1 }, {}).catch((e: unknown) => e);
      expect(refusal).toBeInstanceOf(RefusedError);
      expect(refusal).toMatchObject({ verdict: { code: 'domain_not_found', winner: { id: 'd-acme' } } });
    });

    it('answers 202 pending when the change is still queued, or no cycle finished in time', async () => {
      await build({
        submit: accepted,
        runNow: async () => ({ finished: true, report: cycled }),
        queue: [entry(update, 12)],
      });
      expect(await service.patchDomain(waiting, 'acme', { a: 1 }, {})).toMatchObject({
        syncState: 'pending',
        accepted: true,
      });
      await build({
        submit: accepted,
        runNow: async () => ({ finished: false, progress: { phase: 'push', pages: 0, objects: 0 } }),
      });
      expect(await service.patchDomain(waiting, 'acme', { a: 1 }, {})).toMatchObject({
        syncState: 'pending',
        accepted: true,
      });
      await build({
        submit: accepted,
        runNow: async () => {
          throw new Error('Command timed out');
        },
      });
      expect(await service.patchDomain(waiting, 'acme', { a: 1 }, {})).toMatchObject({
        syncState: 'pending',
        accepted: true,
      });
    });
  });
});
