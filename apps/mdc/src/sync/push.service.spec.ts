import { Test } from '@nestjs/testing';
import type { EntityManager } from 'typeorm';
import { ClusterConfigService, MetricsRegistry } from '@dd/admin-api';
import { type Change, type Decided, type JsonObject, MemoryDirectory, type Verdict } from '@dd/directory';
import type { PushRequest, PushResponse, PushVerdict, QueuedChange } from '@dd/sync-protocol';
import { type Fake, strictFake } from '@dd/testing';
import { ApplyChanges, Screen, Submission } from '../directory/apply-changes';
import { AuditEntry, DirectoryStore, DomainWrite } from '../directory/directory.store';
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
    expect(ledger.record).toHaveBeenCalledWith(TX, SITE, EPOCH, [], 2, 7);
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

  it('records the new verdicts, the new high-water mark and the reported queue length in the transaction that applied them', async () => {
    await given(4, [{ seq: 4, status: 'applied', version: '17', replayed: false }]);
    const response = await service.push(SITE, push(queued(4), queued(5), queued(6), queued(8)));
    expect(ledger.record).toHaveBeenCalledTimes(1);
    expect(ledger.record).toHaveBeenCalledWith(
      TX,
      SITE,
      EPOCH,
      [
        { seq: 5, status: 'applied', version: '41', replayed: false, fp: fingerprintOf(queued(5)) },
        { seq: 6, status: 'applied', version: '42', replayed: false, fp: fingerprintOf(queued(6)) },
      ],
      6,
      7,
    );
    expect(response.lastSeq).toBe(6);
  });

  it('answers a seq DomainDB holds for another change `reused`, and applies nothing from it on (SPEC §7, §11)', async () => {
    // seq 2 was decided for d2; a Redis that went back in time gives it (and 3) to other changes
    const first = await decidedWithPrints(2, [queued(1), queued(2)]);
    const response = await service.push(SITE, push(queued(1), queued(2, 'other'), queued(3)));
    expect(applied).toEqual([]);
    expect(response).toEqual({
      lastSeq: 2,
      verdicts: [
        { ...stripped(first[0]), replayed: true },
        { seq: 2, status: 'reused' },
      ],
    });
    // the very changes sent again are replays, whatever came after them
    await decidedWithPrints(2, [queued(1), queued(2)]);
    const again = await service.push(SITE, push(queued(2), queued(3)));
    expect(applied).toEqual([3]);
    expect(again.verdicts.map((v) => v.status)).toEqual(['applied', 'applied']);
  });

  /** Pushes `changes` on a new ledger, then starts again at `lastSeq` with their recorded verdicts. */
  async function decidedWithPrints(lastSeq: number, changes: QueuedChange[]): Promise<PushVerdict[]> {
    await given(0);
    await service.push(SITE, push(...changes));
    const recorded = (ledger.record as jest.Mock).mock.calls[0][3] as PushVerdict[];
    await given(lastSeq, recorded);
    return recorded;
  }

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
      expect(ledger.record).toHaveBeenCalledWith(
        TX,
        SITE,
        EPOCH,
        [{ ...rejected(1, FORBIDDEN), fp: fingerprintOf(queued(1, 'elsewhere')) }],
        1,
        7,
      );
    });
  });
});

/**
 * DomainDB as the strict fakes of the stores keep it: each transaction stages its writes and
 * commits them only when its work resolves, as PostgreSQL would. It starts empty.
 */
class FakeDomainDb {
  head = HEAD;
  lastSeq = 0;
  verdicts: PushVerdict[] = [];
  audit: AuditEntry[] = [];
  private readonly staged = new Map<
    EntityManager,
    Partial<Pick<FakeDomainDb, 'head' | 'lastSeq'>> & Pick<FakeDomainDb, 'verdicts' | 'audit'>
  >();

  constructor(private readonly refuses: (domains: DomainWrite[]) => Error | undefined) {}

  readonly store = strictFake<DirectoryStore>('DirectoryStore', {
    transaction: async (work) => {
      const tx = strictFake<EntityManager>(`tx${this.staged.size + 1}`);
      this.staged.set(tx, { verdicts: [], audit: [] });
      const result = await work(tx);
      const { head, lastSeq, verdicts, audit } = this.staged.get(tx)!;
      this.head = head ?? this.head;
      this.lastSeq = lastSeq ?? this.lastSeq;
      this.verdicts.push(...verdicts);
      this.audit.push(...audit);
      return result;
    },
    lockHead: async () => this.head,
    loadFor: async () => ({ view: new MemoryDirectory([], []), domains: new Map(), entities: new Map() }),
    writeObjects: async (_tx, domains) => {
      const error = this.refuses(domains);
      if (error) throw error;
    },
    appendChangeLog: async () => undefined,
    appendAudit: async (tx, rows) => void this.staged.get(tx)!.audit.push(...rows),
    loadDigests: async () => new Map(),
    writeDigests: async () => undefined,
    moveBuckets: async () => undefined,
    setHead: async (tx, value) => void (this.staged.get(tx)!.head = value),
    notifyChange: async () => undefined,
  });

  readonly ledger = strictFake<PushLedgerStore>('PushLedgerStore', {
    lastSeq: async () => this.lastSeq,
    firstVerdicts: async (_tx, _site, _epoch, seqs) =>
      new Map(this.verdicts.filter((v) => seqs.includes(v.seq)).map((v) => [v.seq, v])),
    record: async (tx, _site, _epoch, verdicts, lastSeq) => {
      const staged = this.staged.get(tx)!;
      staged.verdicts.push(...verdicts);
      staged.lastSeq = lastSeq;
    },
  });
}

/** What `pg` throws for a NUL in a jsonb value (TypeORM's QueryFailedError copies `code` and `detail`). */
function untranslatable(): Error {
  return Object.assign(new Error('unsupported Unicode escape sequence'), {
    code: '22P05',
    detail: '\\u0000 cannot be converted to text.',
  });
}

/**
 * PostgreSQL refusing a domain's settings that hold POISON anywhere, keys included. It stands for any
 * content the rules let through and PostgreSQL refuses (the rules refuse a NUL themselves today, so
 * this is the defence behind them).
 */
const POISON = 'refused-by-postgres';
const refusesNul = (domains: DomainWrite[]) =>
  domains.some((w) => JSON.stringify(w.domain.settings).includes(POISON)) ? untranslatable() : undefined;

const NUL_NOTE = { note: POISON };

function settingsUpdate(seq: number, of: QueuedChange, patch: JsonObject): QueuedChange {
  const { id, name } = of.change as Extract<Change, { op: 'domain.create' }>;
  return { seq, change: { op: 'domain.update', id, name, patch }, actor: 'alice', at: of.at };
}

describe('PushService: what PostgreSQL refuses in a change is that change’s verdict, never the push’s 500', () => {
  async function serviceOver(db: FakeDomainDb): Promise<PushService> {
    const moduleRef = await Test.createTestingModule({
      providers: [
        PushService,
        ApplyChanges,
        MdcMetrics,
        MetricsRegistry,
        { provide: DirectoryStore, useValue: db.store },
        { provide: PushLedgerStore, useValue: db.ledger },
        {
          provide: PushScope,
          useValue: strictFake<PushScope>('PushScope', { screenFor: async () => () => null }),
        },
        { provide: ClusterConfigService, useValue: { current: { masterDomain: 'master' } } },
      ],
    }).compile();
    return moduleRef.get(PushService);
  }

  const statuses = (response: PushResponse) => response.verdicts.map((v) => [v.seq, v.status]);
  const audited = (db: FakeDomainDb) => db.audit.map((a) => [a.seq, a.version]);

  it('answers the refused change validation_failed, saying what PostgreSQL refused, and applies the one after it once', async () => {
    const db = new FakeDomainDb(refusesNul);
    const service = await serviceOver(db);

    const response = await service.push(SITE, push(queued(1, 'al', NUL_NOTE), queued(2)));

    const refusal =
      'PostgreSQL refused the change: unsupported Unicode escape sequence: \\u0000 cannot be converted to text. (SQLSTATE 22P05)';
    expect(response).toEqual({
      lastSeq: 2,
      verdicts: [
        rejected(1, { ok: false, code: 'validation_failed', message: refusal, winner: null }),
        { seq: 2, status: 'applied', version: '41', replayed: false },
      ],
    });
    expect(audited(db)).toEqual([[2, '41']]);
    expect(db.verdicts.map(stripped)).toEqual(response.verdicts);
    expect([db.lastSeq, db.head]).toEqual([2, 41n]);
  });

  it('isolates every refused change of a batch and applies all the others exactly once, in seq order', async () => {
    const db = new FakeDomainDb(refusesNul);
    const service = await serviceOver(db);
    const nulKey = { [POISON]: 1 };

    const response = await service.push(
      SITE,
      push(queued(1), queued(2, 'b2', nulKey), queued(3), queued(4, 'b4', NUL_NOTE), queued(5)),
    );

    expect(statuses(response)).toEqual([
      [1, 'applied'],
      [2, 'rejected'],
      [3, 'applied'],
      [4, 'rejected'],
      [5, 'applied'],
    ]);
    expect(audited(db)).toEqual([
      [1, '41'],
      [3, '42'],
      [5, '43'],
    ]);
    expect(db.verdicts.map((v) => v.seq)).toEqual([1, 2, 3, 4, 5]);
  });

  it('finds a refused update whose target an earlier change of the batch created', async () => {
    const db = new FakeDomainDb(refusesNul);
    const service = await serviceOver(db);
    const create = queued(1);

    const response = await service.push(SITE, push(create, settingsUpdate(2, create, NUL_NOTE)));

    expect(statuses(response)).toEqual([
      [1, 'applied'],
      [2, 'rejected'],
    ]);
    expect(response.verdicts[1]).toMatchObject({ code: 'validation_failed' });
    expect(audited(db)).toEqual([[1, '41']]);
  });

  it('answers a re-sent refused change with its first verdict, trying nothing again', async () => {
    const db = new FakeDomainDb(refusesNul);
    const service = await serviceOver(db);
    const batch = push(queued(1, 'dee', NUL_NOTE), queued(2));
    const first = await service.push(SITE, batch);
    db.store.writeObjects.mockClear();

    const again = await service.push(SITE, batch);

    expect(again.verdicts).toEqual(first.verdicts.map((v) => ({ ...v, replayed: true })));
    expect(db.store.writeObjects).not.toHaveBeenCalled();
    expect(audited(db)).toEqual([[2, '41']]);
  });

  it('lets any other failure through: an unreachable DomainDB is no verdict on a change', async () => {
    const lost = Object.assign(new Error('terminating connection due to administrator command'), {
      code: '57P01',
    });
    const db = new FakeDomainDb(() => lost);
    const service = await serviceOver(db);

    await expect(service.push(SITE, push(queued(1)))).rejects.toBe(lost);
    expect([db.verdicts, db.audit, db.lastSeq]).toEqual([[], [], 0]);
  });
});

/** A recorded verdict without the change's fingerprint, as a push answers it. */
function stripped(v: PushVerdict): PushVerdict {
  const { fp: _fp, ...verdict } = v as PushVerdict & { fp?: string };
  return verdict as PushVerdict;
}

/** The fingerprint the ledger keeps of a change (any 22-character string the service computes). */
function fingerprintOf(_c: QueuedChange): unknown {
  return expect.stringMatching(/^[\w-]{22}$/);
}
