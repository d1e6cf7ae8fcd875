import { Test } from '@nestjs/testing';
import type { EntityManager } from 'typeorm';
import { MetricsRegistry } from '@dd/admin-api';
import type { Change, Decided, Verdict } from '@dd/directory';
import type { PushRequest, PushVerdict, QueuedChange } from '@dd/sync-protocol';
import { type Fake, strictFake } from '@dd/testing';
import { ApplyChanges, Submission } from '../directory/apply-changes';
import { DirectoryStore } from '../directory/directory.store';
import { MdcMetrics } from '../ops/mdc.metrics';
import { PushLedgerStore } from './push-ledger.store';
import { PushService } from './push.service';

const SITE = 'site-a';
const EPOCH = 'epoch-0001';
const HEAD = 40n;
/** The push's transaction: the service only hands it on, so any use of it fails the test. */
const TX = strictFake<EntityManager>('tx');

function queued(seq: number, name = `d${seq}`): QueuedChange {
  const change: Change = { op: 'domain.create', id: `id-${seq}`, name, parent: null, settings: {} };
  return { seq, change, actor: 'alice', at: '2026-01-01T00:00:00.000Z' };
}

function push(...changes: QueuedChange[]): PushRequest {
  return { epoch: EPOCH, changes, queueLength: 7 };
}

const TAKEN: Extract<Verdict, { ok: false }> = {
  ok: false,
  code: 'already_exists',
  message: 'domain "taken" already exists',
  winner: null,
};

describe('PushService (SPEC §7: exactly once)', () => {
  let service: PushService;
  let ledger: Fake<PushLedgerStore>;
  let applier: Fake<ApplyChanges>;
  /** The seqs ApplyChanges was asked to apply, in the order it got them. */
  let applied: Array<number | null>;

  /** Accepts every change but those named `taken`; versions follow the locked head, as ApplyChanges gives them. */
  const decideAll: ApplyChanges['applyLocked'] = async (_tx, head, _site, _epoch, items) => {
    let next = head;
    applied.push(...items.map((item) => item.seq));
    return items.map((item): Decided<Submission> => {
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
    const moduleRef = await Test.createTestingModule({
      providers: [
        PushService,
        MdcMetrics,
        MetricsRegistry,
        { provide: DirectoryStore, useValue: store },
        { provide: PushLedgerStore, useValue: ledger },
        { provide: ApplyChanges, useValue: applier },
      ],
    }).compile();
    service = moduleRef.get(PushService);
  }

  it('applies a contiguous run in seq order, each under the locked head', async () => {
    await given(0);
    const response = await service.push(SITE, push(queued(1), queued(2), queued(3)));
    expect(applier.applyLocked).toHaveBeenCalledWith(TX, HEAD, SITE, EPOCH, [
      { change: queued(1).change, actor: 'alice', seq: 1 },
      { change: queued(2).change, actor: 'alice', seq: 2 },
      { change: queued(3).change, actor: 'alice', seq: 3 },
    ]);
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
      verdicts: [
        {
          seq: 1,
          status: 'rejected',
          code: 'already_exists',
          message: TAKEN.message,
          winner: null,
          replayed: false,
        },
        { seq: 2, status: 'applied', version: '41', replayed: false },
      ],
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
});
