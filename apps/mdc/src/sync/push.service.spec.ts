import { Test } from '@nestjs/testing';
import type { EntityManager } from 'typeorm';
import { MetricsRegistry } from '@dd/admin-api';
import { type Change, type Decided, type JsonObject, MemoryDirectory, type Verdict } from '@dd/directory';
import type { PushRequest, PushVerdict, QueuedChange } from '@dd/sync-protocol';
import { type Fake, strictFake } from '@dd/testing';
import { ApplyChanges, Screen, Submission } from '../directory/apply-changes';
import { DirectoryStore } from '../directory/directory.store';
import { MdcMetrics } from '../ops/mdc.metrics';
import { PushLedgerStore } from './push-ledger.store';
import { PushScope } from './push-scope';
import { PushService } from './push.service';

const SITE = 'site-a';
const EPOCH = 'epoch-0001';
const HEAD = 40n;
/** The push's transaction: the service only hands it on, so any use of it fails the test. */
const TX = strictFake<EntityManager>('tx');

function queued(seq: number, name = `d${seq}`, settings: JsonObject = {}): QueuedChange {
  const change: Change = { op: 'domain.create', id: `id-${seq}`, name, parent: null, settings };
  return { seq, change, actor: 'alice', at: '2026-01-01T00:00:00.000Z' };
}

function push(...changes: QueuedChange[]): PushRequest {
  return { epoch: EPOCH, changes, queueLength: 7 };
}

type Refusal = Extract<Verdict, { ok: false }>;

const TAKEN: Refusal = {
  ok: false,
  code: 'already_exists',
  message: 'domain "taken" already exists',
  winner: null,
};
const FORBIDDEN: Refusal = {
  ok: false,
  code: 'forbidden',
  message: 'site site-a does not serve domain "elsewhere", so it may not change it',
  winner: null,
};
/** A change's verdict as the MDC answers a refusal first decided now. */
const rejected = (seq: number, { code, message, winner }: Refusal): PushVerdict => ({
  seq,
  status: 'rejected',
  code,
  message,
  winner,
  replayed: false,
});
/** The site's scope as PushScope would screen it: everything but the domain `elsewhere`. */
const notElsewhere: Screen = ({ change }) =>
  change.op === 'domain.create' && change.name === 'elsewhere' ? FORBIDDEN : null;

describe('PushService (SPEC §7: exactly once)', () => {
  let service: PushService;
  let ledger: Fake<PushLedgerStore>;
  let applier: Fake<ApplyChanges>;
  /** The seqs ApplyChanges was asked to apply, in the order it got them. */
  let applied: Array<number | null>;

  let scope: Fake<PushScope>;

  /**
   * Screens each change, then accepts every one but those named `taken`; versions follow the locked
   * head, as ApplyChanges gives them (a screened-out change takes none).
   */
  const decideAll: ApplyChanges['applyLocked'] = async (_tx, head, _site, _epoch, items, screen) => {
    let next = head;
    const stored = new MemoryDirectory([], []);
    return items.map((item): Decided<Submission> => {
      const refusal = screen?.(item, stored);
      if (refusal) return { item, verdict: refusal };
      applied.push(item.seq);
      if (item.change.op === 'domain.create' && item.change.name === 'taken') return { item, verdict: TAKEN };
      next += 1n;
      return { item, verdict: { ok: true, effects: [] }, version: next.toString() };
    });
  };

  /** A (site, epoch) whose high-water mark is `lastSeq`, with these first verdicts on record. */
  async function given(lastSeq: number, recorded: PushVerdict[] = []): Promise<void> {
    const store = strictFake<DirectoryStore>('DirectoryStore', {
      transaction: (work) => work(TX),
      lockHead: async () => HEAD,
    });
    ledger = strictFake<PushLedgerStore>('PushLedgerStore', {
      lastSeq: async () => lastSeq,
      firstVerdicts: async (_tx, _site, _epoch, seqs) =>
        new Map(recorded.filter((v) => seqs.includes(v.seq)).map((v) => [v.seq, v])),
      record: async () => undefined,
      notePush: async () => undefined,
    });
    applied = [];
    applier = strictFake<ApplyChanges>('ApplyChanges', { applyLocked: decideAll });
    scope = strictFake<PushScope>('PushScope', { screenFor: async () => notElsewhere });
    const moduleRef = await Test.createTestingModule({
      providers: [
        PushService,
        MdcMetrics,
        MetricsRegistry,
        { provide: DirectoryStore, useValue: store },
        { provide: PushLedgerStore, useValue: ledger },
        { provide: ApplyChanges, useValue: applier },
        { provide: PushScope, useValue: scope },
      ],
    }).compile();
    service = moduleRef.get(PushService);
  }

  it('applies a contiguous run in seq order, each under the locked head', async () => {
    await given(0);
    const response = await service.push(SITE, push(queued(1), queued(2), queued(3)));
    expect(applier.applyLocked).toHaveBeenCalledWith(
      TX,
      HEAD,
      SITE,
      EPOCH,
      [
        { change: queued(1).change, actor: 'alice', seq: 1 },
        { change: queued(2).change, actor: 'alice', seq: 2 },
        { change: queued(3).change, actor: 'alice', seq: 3 },
      ],
      expect.any(Function),
    );
    expect(response).toEqual({
      lastSeq: 3,
      verdicts: [
        { seq: 1, status: 'applied', version: '41', replayed: false },
        { seq: 2, status: 'applied', version: '42', replayed: false },
        { seq: 3, status: 'applied', version: '43', replayed: false },
      ],
    });
  });

  it('sorts a batch that arrives out of order before applying it', async () => {
    await given(0);
    const response = await service.push(SITE, push(queued(3), queued(1), queued(2)));
    expect(applied).toEqual([1, 2, 3]);
    expect(response.verdicts.map((v) => v.seq)).toEqual([1, 2, 3]);
    expect(response.lastSeq).toBe(3);
  });

  it('answers a re-sent change with its first verdict and applies it once', async () => {
    const first: PushVerdict[] = [
      { seq: 1, status: 'applied', version: '17', replayed: false },
      {
        seq: 2,
        status: 'rejected',
        code: 'already_exists',
        message: 'taken',
        winner: null,
        replayed: false,
      },
    ];
    await given(2, first);
    const response = await service.push(SITE, push(queued(1), queued(2), queued(3)));
    expect(applied).toEqual([3]);
    expect(ledger.firstVerdicts).toHaveBeenCalledWith(TX, SITE, EPOCH, [1, 2]);
    expect(response.verdicts).toEqual([
      { ...first[0], replayed: true },
      { ...first[1], replayed: true },
      { seq: 3, status: 'applied', version: '41', replayed: false },
    ]);
    expect(response.lastSeq).toBe(3);
  });

  it('applies nothing when the whole batch was decided before', async () => {
    await given(2, [
      { seq: 1, status: 'applied', version: '17', replayed: false },
      { seq: 2, status: 'applied', version: '18', replayed: false },
    ]);
    const response = await service.push(SITE, push(queued(1), queued(2)));
    expect(applied).toEqual([]);
    expect(response.verdicts).toEqual([
      { seq: 1, status: 'applied', version: '17', replayed: true },
      { seq: 2, status: 'applied', version: '18', replayed: true },
    ]);
    expect(ledger.record).toHaveBeenCalledWith(TX, SITE, EPOCH, [], 2);
  });

  it('answers a re-sent change whose verdict the retention purged as applied long ago, never applying it again', async () => {
    await given(5);
    const response = await service.push(SITE, push(queued(4)));
    expect(applied).toEqual([]);
    expect(response.verdicts).toEqual([{ seq: 4, status: 'applied', version: '0', replayed: true }]);
  });

  it('refuses a seq that skips ahead as a gap, with everything after it, and applies the run before it', async () => {
    await given(0);
    const response = await service.push(SITE, push(queued(1), queued(3), queued(4)));
    expect(applied).toEqual([1]);
    expect(response).toEqual({
      lastSeq: 1,
      verdicts: [
        { seq: 1, status: 'applied', version: '41', replayed: false },
        { seq: 3, status: 'gap', expected: 2 },
        { seq: 4, status: 'gap', expected: 2 },
      ],
    });
  });

  it('answers a refused change with its code and still moves past it (a refusal never blocks the queue)', async () => {
    await given(0);
    const response = await service.push(SITE, push(queued(1, 'taken'), queued(2)));
    expect(response).toEqual({
      lastSeq: 2,
      verdicts: [rejected(1, TAKEN), { seq: 2, status: 'applied', version: '41', replayed: false }],
    });
  });

  it('records the new verdicts and the new high-water mark in the transaction that applied them', async () => {
    await given(4, [{ seq: 4, status: 'applied', version: '17', replayed: false }]);
    const response = await service.push(SITE, push(queued(4), queued(5), queued(6), queued(8)));
    expect(ledger.record).toHaveBeenCalledTimes(1);
    expect(ledger.record).toHaveBeenCalledWith(
      TX,
      SITE,
      EPOCH,
      [
        { seq: 5, status: 'applied', version: '41', replayed: false },
        { seq: 6, status: 'applied', version: '42', replayed: false },
      ],
      6,
    );
    expect(response.lastSeq).toBe(6);
    expect(ledger.notePush).toHaveBeenCalledWith(SITE, EPOCH, 6, 7);
  });

  describe('SPEC §9: a site can change only what it serves', () => {
    it('screens the push with the pushing site’s scope as of now', async () => {
      await given(0);
      const before = Date.now();
      await service.push(SITE, push(queued(1)));
      expect(scope.screenFor).toHaveBeenCalledWith(SITE, expect.any(Number));
      expect(scope.screenFor.mock.calls[0][1]).toBeGreaterThanOrEqual(before);
    });

    it('refuses a change outside the scope as forbidden, gives it no version, and applies the one after it', async () => {
      await given(0);
      const response = await service.push(SITE, push(queued(1, 'elsewhere'), queued(2)));
      expect(applied).toEqual([2]);
      expect(response).toEqual({
        lastSeq: 2,
        verdicts: [rejected(1, FORBIDDEN), { seq: 2, status: 'applied', version: '41', replayed: false }],
      });
    });

    it('records the forbidden verdict in the ledger, so a re-sent change gets it again and the queue moves on', async () => {
      await given(0);
      await service.push(SITE, push(queued(1, 'elsewhere')));
      expect(ledger.record).toHaveBeenCalledWith(TX, SITE, EPOCH, [rejected(1, FORBIDDEN)], 1);
    });
  });
});
