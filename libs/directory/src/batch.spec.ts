import { BatchLedger, digestChanges } from './batch';
import { computeDomainDigest, DomainDigest } from './digest';
import { DirectoryOverlay, MemoryDirectory } from './directory-view';
import type { Change, Domain, Entity } from './model';
import { decide } from './rules';

const at = '2026-01-01T00:00:00.000Z';
const domain = (name: string, id: string): Domain => ({
  id,
  name,
  parent: null,
  settings: {},
  version: '1',
  createdAt: at,
  updatedAt: at,
});
const entity = (id: string, name: string): Entity => ({
  id,
  domain: 'acme',
  kind: 'user',
  name,
  attributes: { n: 0 },
  version: '1',
  createdAt: at,
  updatedAt: at,
});

describe('BatchLedger and digestChanges', () => {
  it('moves a digest exactly as far as a recomputation from the final states', () => {
    const acme = domain('acme', '00000000-0000-4000-8000-000000000001');
    const e1 = entity('00000000-0000-4000-8000-000000000011', 'a');
    const e2 = entity('00000000-0000-4000-8000-000000000012', 'b');
    const base = { domains: new Map([[acme.id, acme]]), entities: new Map([e1, e2].map((e) => [e.id, e])) };
    const overlay = new DirectoryOverlay(new MemoryDirectory([acme], [e1, e2]));
    const ledger = new BatchLedger(base, overlay);
    const changes: Change[] = [
      { op: 'entity.update' as const, id: e1.id, domain: 'acme', kind: 'user', name: 'a', patch: { n: 1 } },
      { op: 'entity.delete' as const, id: e2.id, domain: 'acme', kind: 'user', name: 'b' },
      {
        op: 'entity.create' as const,
        id: '00000000-0000-4000-8000-000000000013',
        domain: 'acme',
        kind: 'user',
        name: 'c',
        attributes: {},
      },
      {
        op: 'entity.update' as const,
        id: '00000000-0000-4000-8000-000000000013',
        domain: 'acme',
        kind: 'user',
        name: 'c',
        patch: { x: 1 },
      },
    ];
    changes.forEach((change, i) => {
      const verdict = decide(overlay, change, { masterDomain: 'master' });
      if (!verdict.ok) throw new Error(verdict.message);
      overlay.apply(verdict.effects, String(10 + i), at);
      for (const e of verdict.effects) ledger.record(e, String(10 + i), at);
    });
    const before = new Map<string, DomainDigest>([['acme', computeDomainDigest(acme, [e1, e2])]]);
    const after = digestChanges(ledger, before).get('acme');
    const live = overlay.entitiesOf('acme');
    expect(after).toEqual(computeDomainDigest(acme, live));
    expect(ledger.entities.get(e2.id)).toMatchObject({ deleted: true, after: { version: '11' } });
    expect(ledger.treeMoved()).toBe(false);
  });

  it('drops the digest of a deleted domain and says the tree moved', () => {
    const gone = domain('gone', '00000000-0000-4000-8000-000000000002');
    const base = { domains: new Map([[gone.id, gone]]), entities: new Map<string, Entity>() };
    const overlay = new DirectoryOverlay(new MemoryDirectory([gone]));
    const ledger = new BatchLedger(base, overlay);
    const verdict = decide(
      overlay,
      { op: 'domain.delete', id: gone.id, name: 'gone', recursive: false },
      { masterDomain: 'master' },
    );
    if (!verdict.ok) throw new Error(verdict.message);
    overlay.apply(verdict.effects, '5', at);
    for (const e of verdict.effects) ledger.record(e, '5', at);
    expect(digestChanges(ledger, new Map()).get('gone')).toBeNull();
    expect(ledger.treeMoved()).toBe(true);
  });
});
