import { Progress, progressBar } from './progress';

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

describe('the progress line', () => {
  const terminal = (isTTY: boolean) => {
    const written: string[] = [];
    const stream = { isTTY, write: (s: string) => written.push(s) } as unknown as NodeJS.WriteStream;
    return { stream, written };
  };

  it('is redrawn in place on a terminal and ended with a newline', () => {
    const { stream, written } = terminal(true);
    const progress = new Progress(true, stream);
    progress.show('a');
    progress.show('b');
    progress.done();
    expect(written).toEqual(['\ra\x1b[K', '\rb\x1b[K', '\n']);
  });

  it('writes nothing to a pipe or a file, or where it is not wanted', () => {
    for (const progress of [
      new Progress(true, terminal(false).stream),
      new Progress(false, terminal(true).stream),
    ]) {
      expect(progress.enabled).toBe(false);
    }
    const { stream, written } = terminal(false);
    const progress = new Progress(true, stream);
    progress.show('a');
    progress.done();
    expect(written).toEqual([]);
  });
});
