import { Test } from '@nestjs/testing';
import { ClusterConfigService } from '@dd/admin-api';
import { CLUSTER_DEFAULTS, ClusterConfig, ClusterConfigListener, ZoneAssignment } from '@dd/cluster-config';
import { type Change, type Domain, type Entity, MemoryDirectory, type Tombstone } from '@dd/directory';
import { type Fake, strictFake } from '@dd/testing';
import type { Submission } from '../directory/apply-changes';
import { PushScope } from './push-scope';
import { ZoneHistoryStore } from './zone-history.store';

const DAY = 24 * 3600 * 1000;
const T0 = '2026-01-01T00:00:00.000Z';

function configWith(zones: ClusterConfig['zones'], zoneMoveGraceMs = 7 * DAY): ClusterConfig {
  const site = (id: string, role: 'master' | 'site' = 'site') => ({
    id,
    role,
    url: 'http://h',
    publicKeys: [],
  });
  return {
    cluster: { ...CLUSTER_DEFAULTS, zoneMoveGraceMs },
    masterDomain: 'master',
    sites: [site('master', 'master'), site('site-a'), site('site-b')],
    zones,
    admins: [],
  };
}
const CONFIG = configWith([
  { domain: 'acme', sites: ['site-a'] },
  { domain: 'umbrella', sites: ['site-b'] },
]);

const domain = (id: string, name: string): Domain => ({
  id,
  name,
  parent: null,
  settings: {},
  version: '3',
  createdAt: T0,
  updatedAt: T0,
});
const MASTER = domain('00000000-0000-4000-8000-00000000000m', 'master');
const ACME = domain('00000000-0000-4000-8000-00000000000a', 'acme');
const UMBRELLA_USER: Entity = {
  id: '00000000-0000-4000-8000-0000000000e1',
  domain: 'umbrella',
  kind: 'user',
  name: 'carol',
  attributes: {},
  version: '4',
  createdAt: T0,
  updatedAt: T0,
};
const GONE: Tombstone = {
  id: '00000000-0000-4000-8000-00000000000g',
  type: 'domain',
  domain: 'sales.umbrella',
  version: '5',
  deletedAt: T0,
};
const STORED = new MemoryDirectory([MASTER, ACME], [UMBRELLA_USER], [GONE]);

const submission = (change: Change): Submission => ({ change, actor: 'alice', seq: 1 });

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !condition(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(condition()).toBe(true);
}

describe('PushScope (SPEC §9: a site can change only what it serves)', () => {
  let history: Fake<ZoneHistoryStore>;
  let listeners: ClusterConfigListener[];

  async function scopeWith(config: ClusterConfig, periods: ZoneAssignment[] = []): Promise<PushScope> {
    listeners = [];
    history = strictFake<ZoneHistoryStore>('ZoneHistoryStore', {
      record: async () => undefined,
      endingAfter: async () => periods,
    });
    const configService = strictFake<ClusterConfigService>('ClusterConfigService', {
      current: config,
      onChange: (listener) => {
        listeners.push(listener);
        return () => undefined;
      },
    });
    const moduleRef = await Test.createTestingModule({
      providers: [
        PushScope,
        { provide: ZoneHistoryStore, useValue: history },
        { provide: ClusterConfigService, useValue: configService },
      ],
    }).compile();
    return moduleRef.get(PushScope);
  }

  describe('records which sites serve which zone', () => {
    it('records the config’s assignments at start-up, forgetting periods older than the grace', async () => {
      const scope = await scopeWith(CONFIG);
      const before = Date.now();
      await scope.onApplicationBootstrap();

      expect(history.record).toHaveBeenCalledTimes(1);
      const [assignments, now, forgetBefore] = history.record.mock.calls[0];
      expect(assignments).toEqual([
        { zone: 'acme', site: 'site-a' },
        { zone: 'umbrella', site: 'site-b' },
      ]);
      expect(now.getTime()).toBeGreaterThanOrEqual(before);
      expect(now.getTime() - forgetBefore.getTime()).toBe(7 * DAY);
    });

    it('records each reloaded config’s assignments, one recording after the other', async () => {
      const scope = await scopeWith(CONFIG);
      await scope.onApplicationBootstrap();
      let finishFirst = () => {};
      history.record.mockImplementationOnce(() => new Promise<void>((resolve) => (finishFirst = resolve)));
      const moved = configWith([{ domain: 'acme', sites: ['site-b'] }]);
      const back = configWith([{ domain: 'acme', sites: ['site-a'] }]);

      listeners.forEach((l) => l(moved, CONFIG));
      listeners.forEach((l) => l(back, moved));
      await until(() => history.record.mock.calls.length === 2);
      await new Promise((r) => setTimeout(r, 20));
      expect(history.record).toHaveBeenCalledTimes(2);
      finishFirst();
      await until(() => history.record.mock.calls.length === 3);

      expect(history.record.mock.calls.map(([assignments]) => assignments)).toEqual([
        [
          { zone: 'acme', site: 'site-a' },
          { zone: 'umbrella', site: 'site-b' },
        ],
        [{ zone: 'acme', site: 'site-b' }],
        [{ zone: 'acme', site: 'site-a' }],
      ]);
    });

    it('keeps recording after a recording failed', async () => {
      const scope = await scopeWith(CONFIG);
      await scope.onApplicationBootstrap();
      history.record.mockRejectedValueOnce(new Error('DomainDB is down'));

      listeners.forEach((l) => l(configWith([]), CONFIG));
      listeners.forEach((l) => l(CONFIG, configWith([])));

      await until(() => history.record.mock.calls.length === 3);
    });
  });

  describe('screens a push', () => {
    const NOW = Date.parse('2026-03-01T12:00:00Z');

    async function screenOf(site: string, config = CONFIG, periods: ZoneAssignment[] = []) {
      const screen = await (await scopeWith(config, periods)).screenFor(site, NOW);
      return (change: Change) => screen(submission(change), STORED);
    }

    it('loads only the periods that can still grant a scope: open ones and those that ended within the grace', async () => {
      await screenOf('site-a');
      expect(history.endingAfter).toHaveBeenCalledWith(new Date(NOW - 7 * DAY));
    });

    it('lets a change in the site’s zone through and refuses one elsewhere as forbidden', async () => {
      const screen = await screenOf('site-a');
      expect(screen({ op: 'domain.update', id: ACME.id, name: 'acme', patch: {} })).toBeNull();
      expect(screen({ op: 'domain.create', id: 'n1', name: 'newco', parent: null, settings: {} })).toEqual({
        ok: false,
        code: 'forbidden',
        message: 'site site-a does not serve domain "newco", so it may not change it',
        winner: null,
      });
    });

    it('refuses a change that names the site’s zone but addresses the master domain by id', async () => {
      const screen = await screenOf('site-a');
      expect(screen({ op: 'domain.update', id: MASTER.id, name: 'acme', patch: { x: 1 } })).toMatchObject({
        code: 'forbidden',
        message: 'the master domain "master" is changed only at the MDC',
      });
    });

    it('refuses a change that names the site’s zone but addresses another zone’s entity by id', async () => {
      const screen = await screenOf('site-a');
      const change: Change = {
        op: 'entity.delete',
        id: UMBRELLA_USER.id,
        domain: 'acme',
        kind: 'user',
        name: 'carol',
      };
      expect(screen(change)).toMatchObject({
        code: 'forbidden',
        message: expect.stringContaining('"umbrella"'),
      });
    });

    it('looks up deleted targets too', async () => {
      const screen = await screenOf('site-a');
      expect(screen({ op: 'domain.delete', id: GONE.id, name: 'acme', recursive: false })).toMatchObject({
        code: 'forbidden',
        message: expect.stringContaining('"sales.umbrella"'),
      });
    });

    it('accepts the old site’s changes to a zone moved away within the grace, and not after it', async () => {
      const moved = [{ domain: 'acme', sites: ['site-b'] }];
      const periods: ZoneAssignment[] = [
        { zone: 'acme', site: 'site-a', since: NOW - 30 * DAY, until: NOW - DAY },
        { zone: 'acme', site: 'site-b', since: NOW - DAY, until: null },
      ];
      const update: Change = { op: 'domain.update', id: ACME.id, name: 'acme', patch: {} };
      expect((await screenOf('site-a', configWith(moved), periods))(update)).toBeNull();
      expect((await screenOf('site-a', configWith(moved, DAY / 2), periods))(update)).toMatchObject({
        code: 'forbidden',
      });
    });
  });
});
