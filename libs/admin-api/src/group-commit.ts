/**
 * SPEC §6 group commit: what callers submit while one flush is in flight waits, and the next flush
 * takes everything waiting (up to `maxGroup`) at once, in arrival order. A burst of N concurrent
 * writes thus costs about N / group-size flushes instead of N, while a lone write waits for no
 * timer: it is flushed at the next turn of the event loop (so callers that arrive in the same turn
 * share it). `flush` answers one output per item, in order; if it throws, every item of that group
 * fails with its error (the next group is flushed all the same).
 */
export class GroupCommit<I, O> {
  private waiting: Array<{ item: I; resolve: (o: O) => void; reject: (e: unknown) => void }> = [];
  private running = false;

  constructor(
    private readonly flush: (items: I[]) => Promise<O[]>,
    private readonly maxGroup = 1000,
    /** told each group's size as it is flushed (metrics) */
    private readonly onGroup: (size: number) => void = () => undefined,
  ) {
    if (maxGroup < 1) throw new Error('a group holds at least one item');
  }

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      this.kick();
    });
  }

  /** Several items, kept together and in order (a group may end between them: order is kept anyway). */
  submitAll(items: readonly I[]): Promise<O[]> {
    return Promise.all(items.map((item) => this.submit(item)));
  }

  /**
   * Several items, in order, each settled on its own: items that span two groups keep the outcome
   * of their own group when the other one fails.
   */
  submitEach(items: readonly I[]): Promise<Array<PromiseSettledResult<O>>> {
    return Promise.allSettled(items.map((item) => this.submit(item)));
  }

  /** Items waiting for a flush, not counting the group in flight. */
  get backlog(): number {
    return this.waiting.length;
  }

  private kick(): void {
    if (this.running) return;
    this.running = true;
    setImmediate(() => void this.drain());
  }

  private async drain(): Promise<void> {
    while (this.waiting.length > 0) {
      const group = this.waiting.splice(0, this.maxGroup);
      try {
        this.onGroup(group.length);
        const out = await this.flush(group.map((w) => w.item));
        if (out.length !== group.length) {
          throw new Error(`a group of ${group.length} was answered with ${out.length} results`);
        }
        group.forEach((w, i) => w.resolve(out[i]));
      } catch (error) {
        for (const w of group) w.reject(error);
      }
    }
    this.running = false;
  }
}
