import { progressBar } from './progress';

describe('the import progress bar', () => {
  it('fills in proportion to the work done', () => {
    expect(progressBar(0, 1000, 'ops', 10)).toBe('[..........]    0/1000 ops');
    expect(progressBar(500, 1000, 'ops', 10)).toBe('[#####.....]  500/1000 ops');
    expect(progressBar(1000, 1000, 'ops', 10)).toBe('[##########] 1000/1000 ops');
  });

  it('stays empty with nothing to do', () => {
    expect(progressBar(0, 0, 'ops', 4)).toBe('[....] 0/0 ops');
  });
});
