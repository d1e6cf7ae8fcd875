import { MAX_MANIFEST_BUCKET_DOMAINS, MAX_SNAPSHOT_PAGE } from './messages';
import {
  parseManifestRequest,
  parsePullRequest,
  parsePushRequest,
  parseSnapshotRequest,
  ProtocolError,
} from './validate';

const ID = '3F2504E0-4F89-41D3-9A0C-0305E82C3301';

function refused(parse: () => unknown, path: string): void {
  expect(parse).toThrow(ProtocolError);
  expect(parse).toThrow(new RegExp(`^${path.replace(/[.[\]]/g, '\\$&')}: `));
}

/** SPEC §8 scale: the shapes of the bucketed manifest and the paged snapshot; anything else is a 400. */
describe('parseManifestRequest', () => {
  it('reads no body as the root alone', () => {
    expect(parseManifestRequest(undefined)).toEqual({ detail: false });
    expect(parseManifestRequest(null)).toEqual({ detail: false });
    expect(parseManifestRequest({})).toEqual({ detail: false });
  });

  it('keeps the detail flag and the domains whose buckets are wanted', () => {
    expect(parseManifestRequest({ detail: true, buckets: ['acme', 'sales.acme'] })).toEqual({
      detail: true,
      buckets: ['acme', 'sales.acme'],
    });
  });

  it('refuses a detail that is not a boolean, and a body that is not an object', () => {
    refused(() => parseManifestRequest({ detail: 'yes' }), 'manifest.detail');
    refused(() => parseManifestRequest([]), 'manifest');
  });

  it('refuses buckets that are not a list of names, or too many of them', () => {
    refused(() => parseManifestRequest({ buckets: 'acme' }), 'manifest.buckets');
    refused(() => parseManifestRequest({ buckets: ['acme', 7] }), 'manifest.buckets');
    refused(() => parseManifestRequest({ buckets: ['ac\u0000me'] }), 'manifest.buckets');
    const many = Array.from({ length: MAX_MANIFEST_BUCKET_DOMAINS + 1 }, (_, i) => `d${i}`);
    refused(() => parseManifestRequest({ buckets: many }), 'manifest.buckets');
  });
});

describe('parseSnapshotRequest', () => {
  it('reads no body as the first page of the whole scope', () => {
    expect(parseSnapshotRequest(undefined)).toEqual({});
    expect(parseSnapshotRequest({})).toEqual({});
  });

  it('keeps the tree flag, the domains, the cursor (id in lowercase) and the page size', () => {
    expect(
      parseSnapshotRequest({
        tree: true,
        domains: ['acme'],
        after: { domain: 'acme', bucket: 255, id: ID },
        limit: MAX_SNAPSHOT_PAGE,
      }),
    ).toEqual({
      tree: true,
      domains: ['acme'],
      after: { domain: 'acme', bucket: 255, id: ID.toLowerCase() },
      limit: MAX_SNAPSHOT_PAGE,
    });
  });

  it('keeps slices, each bucket once', () => {
    expect(parseSnapshotRequest({ slices: [{ domain: 'acme', buckets: [0, 7, 7, 255] }] })).toEqual({
      slices: [{ domain: 'acme', buckets: [0, 7, 255] }],
    });
  });

  it('refuses slices together with domains', () => {
    refused(
      () => parseSnapshotRequest({ domains: ['acme'], slices: [{ domain: 'acme', buckets: [1] }] }),
      'snapshot.slices',
    );
  });

  it('refuses a bucket outside 0 to 255, and a slice without buckets or domain', () => {
    refused(
      () => parseSnapshotRequest({ slices: [{ domain: 'acme', buckets: [256] }] }),
      'snapshot.slices[0].buckets[0]',
    );
    refused(
      () => parseSnapshotRequest({ slices: [{ domain: 'acme', buckets: [-1] }] }),
      'snapshot.slices[0].buckets[0]',
    );
    refused(
      () => parseSnapshotRequest({ slices: [{ domain: 'acme', buckets: [1.5] }] }),
      'snapshot.slices[0].buckets[0]',
    );
    refused(
      () => parseSnapshotRequest({ slices: [{ domain: 'acme', buckets: 3 }] }),
      'snapshot.slices[0].buckets',
    );
    // no buckets: the domain's record alone (its digest differs, none of its buckets does)
    expect(parseSnapshotRequest({ slices: [{ domain: 'acme', buckets: [] }] })).toEqual({
      slices: [{ domain: 'acme', buckets: [] }],
    });
    refused(() => parseSnapshotRequest({ slices: [{ buckets: [1] }] }), 'snapshot.slices[0].domain');
    refused(
      () => parseSnapshotRequest({ slices: [{ domain: 'a\u0000', buckets: [1] }] }),
      'snapshot.slices[0].domain',
    );
    refused(() => parseSnapshotRequest({ slices: ['acme'] }), 'snapshot.slices[0]');
    refused(() => parseSnapshotRequest({ slices: {} }), 'snapshot.slices');
  });

  it('refuses a cursor without a domain, a bucket in range or a UUID', () => {
    refused(() => parseSnapshotRequest({ after: 'acme' }), 'snapshot.after');
    refused(() => parseSnapshotRequest({ after: { bucket: 1, id: ID } }), 'snapshot.after.domain');
    refused(
      () => parseSnapshotRequest({ after: { domain: 'a\u0000', bucket: 1, id: ID } }),
      'snapshot.after.domain',
    );
    refused(
      () => parseSnapshotRequest({ after: { domain: 'acme', bucket: 256, id: ID } }),
      'snapshot.after.bucket',
    );
    refused(
      () => parseSnapshotRequest({ after: { domain: 'acme', bucket: 1, id: 'x' } }),
      'snapshot.after.id',
    );
  });

  it('refuses a page size of 0, above the maximum or not an integer', () => {
    refused(() => parseSnapshotRequest({ limit: 0 }), 'snapshot.limit');
    refused(() => parseSnapshotRequest({ limit: MAX_SNAPSHOT_PAGE + 1 }), 'snapshot.limit');
    refused(() => parseSnapshotRequest({ limit: '10' }), 'snapshot.limit');
  });

  it('refuses a tree flag that is not a boolean, and domains that are not names', () => {
    refused(() => parseSnapshotRequest({ tree: 1 }), 'snapshot.tree');
    refused(() => parseSnapshotRequest({ domains: [1] }), 'snapshot.domains');
    refused(() => parseSnapshotRequest('acme'), 'snapshot');
  });
});

/** SPEC §10: a pull reports the site's queue length as it is after the push, so /cluster/status is fresh. */
describe('parsePullRequest', () => {
  it("keeps the site's queue length, and takes a pull without one (a site of an older version)", () => {
    expect(parsePullRequest({ cursor: '12', queueLength: 0 })).toEqual({ cursor: '12', queueLength: 0 });
    expect(parsePullRequest({ cursor: '12', limit: 5 })).toEqual({ cursor: '12', limit: 5 });
  });

  it("takes the site's epoch, so the answer can say what DomainDB has decided of it (SPEC §11)", () => {
    expect(parsePullRequest({ cursor: '1', epoch: 'e'.repeat(36) })).toEqual({
      cursor: '1',
      epoch: 'e'.repeat(36),
    });
    refused(() => parsePullRequest({ cursor: '1', epoch: 'short' }), 'pull.epoch');
    refused(() => parsePullRequest({ cursor: '1', epoch: 7 }), 'pull.epoch');
  });

  it('refuses a queue length that is not a non-negative integer', () => {
    for (const queueLength of [-1, 1.5, '3', null, 2 ** 31])
      refused(() => parsePullRequest({ cursor: '0', queueLength }), 'pull.queueLength');
  });
});

/** SPEC §11: a change sent again after a failover carries its first refusal's code. */
describe('parsePushRequest', () => {
  const change = {
    op: 'domain.delete',
    id: '6f1c0a52-8a2b-4c55-9d3e-1b2c3d4e5f60',
    name: 'acme',
    recursive: false,
  };
  const push = (extra: Record<string, unknown>) => ({
    epoch: 'e'.repeat(36),
    changes: [{ seq: 1, change, actor: 'ops', at: '2026-01-01T00:00:00.000Z', ...extra }],
  });

  it('keeps a first refusal of a known rule code, and a change without one as it is', () => {
    expect(parsePushRequest(push({ refused: 'already_exists' })).changes[0].refused).toBe('already_exists');
    expect(parsePushRequest(push({})).changes[0]).not.toHaveProperty('refused');
  });

  it('refuses a refusal that is not a rule code', () => {
    refused(() => parsePushRequest(push({ refused: 'store_unavailable' })), 'push.changes[0].refused');
    refused(() => parsePushRequest(push({ refused: 7 })), 'push.changes[0].refused');
  });
});
