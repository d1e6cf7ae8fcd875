import { GroupCommit } from './group-commit';

/** A flush that records its groups and answers each item doubled, after `gate` opens. */
function recorder(opts: { fail?: (items: number[]) => boolean } = {}) {
  const groups: number[][] = [];
  let release: () => void = () => undefined;
  let gate = Promise.resolve();
  const flush = async (items: number[]) => {
    groups.push(items);
    await gate;
    if (opts.fail?.(items)) throw new Error(`group ${items.join(',')} failed`);
    return items.map((i) => i * 2);
  };
  const hold = () => {
    gate = new Promise((r) => (release = r));
  };
  return { groups, flush, hold, release: () => release() };
}

describe('GroupCommit (SPEC §6 group commit)', () => {
  it('flushes a lone item at once and answers it', async () => {
    const r = recorder();
    const g = new GroupCommit(r.flush);
    await expect(g.submit(21)).resolves.toBe(42);
    expect(r.groups).toEqual([[21]]);
  });

  it('puts items that arrive in the same turn into one group, in arrival order', async () => {
    const r = recorder();
    const g = new GroupCommit(r.flush);
    const out = await Promise.all([1, 2, 3, 4].map((i) => g.submit(i)));
    expect(out).toEqual([2, 4, 6, 8]);
    expect(r.groups).toEqual([[1, 2, 3, 4]]);
  });

  it('collects what arrives while a flush is in flight into the next group', async () => {
    const r = recorder();
    const g = new GroupCommit(r.flush);
    r.hold();
    const first = g.submit(1);
    await new Promise((res) => setImmediate(res));
    expect(r.groups).toEqual([[1]]);
    const later = [2, 3, 4].map((i) => g.submit(i));
    expect(g.backlog).toBe(3);
    await new Promise((res) => setImmediate(res));
    expect(r.groups).toHaveLength(1); // still in flight: nobody else flushes
    r.release();
    expect(await first).toBe(2);
    expect(await Promise.all(later)).toEqual([4, 6, 8]);
    expect(r.groups).toEqual([[1], [2, 3, 4]]);
  });

  it('caps a group at maxGroup and keeps order across groups', async () => {
    const r = recorder();
    const sizes: number[] = [];
    const g = new GroupCommit(r.flush, 3, (n) => sizes.push(n));
    const out = await g.submitAll([1, 2, 3, 4, 5, 6, 7]);
    expect(out).toEqual([2, 4, 6, 8, 10, 12, 14]);
    expect(r.groups).toEqual([[1, 2, 3], [4, 5, 6], [7]]);
    expect(sizes).toEqual([3, 3, 1]);
  });

  it('fails only the group whose flush threw, and goes on with the next', async () => {
    const r = recorder({ fail: (items) => items.includes(2) });
    const g = new GroupCommit(r.flush, 2);
    const results = await Promise.allSettled([1, 2, 3, 4].map((i) => g.submit(i)));
    expect(results.map((x) => x.status)).toEqual(['rejected', 'rejected', 'fulfilled', 'fulfilled']);
    expect((results[0] as PromiseRejectedResult).reason.message).toBe('group 1,2 failed');
    await expect(g.submit(5)).resolves.toBe(10);
  });

  it('settles each of several items with its own group’s outcome', async () => {
    const r = recorder({ fail: (items) => items.includes(1) });
    const g = new GroupCommit(r.flush, 2);
    const settled = await g.submitEach([1, 2, 3]);
    expect(settled.map((x) => x.status)).toEqual(['rejected', 'rejected', 'fulfilled']);
    expect(settled[2]).toEqual({ status: 'fulfilled', value: 6 });
  });

  it('keeps going when the metrics callback throws', async () => {
    const r = recorder();
    let calls = 0;
    const g = new GroupCommit(r.flush, 10, () => {
      if (calls++ === 0) throw new Error('metrics broke');
    });
    await expect(g.submit(1)).rejects.toThrow('metrics broke');
    await expect(g.submit(2)).resolves.toBe(4);
  });

  it('refuses a flush that answers the wrong number of results', async () => {
    const g = new GroupCommit<number, number>(async () => [1]);
    const results = await Promise.allSettled([g.submit(1), g.submit(2)]);
    expect(results.every((x) => x.status === 'rejected')).toBe(true);
  });
});
