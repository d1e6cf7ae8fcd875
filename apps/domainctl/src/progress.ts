/** A one-line progress bar: `[#####.....]  500/1000 ops  3 refused`. */
export function progressBar(done: number, total: number, note: string, width = 30): string {
  const filled = total > 0 ? Math.min(width, Math.round((done / total) * width)) : 0;
  const counts = `${String(done).padStart(String(total).length)}/${total}`;
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${counts} ${note}`;
}

/**
 * Redraws one line on stderr while work goes on, only when stderr is a terminal (a pipe or a file
 * gets no progress, only the summary).
 */
export class Progress {
  private drawn = false;

  /** `wanted`: false where the line would mix with other output on the same terminal. */
  constructor(
    private readonly wanted = true,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  get enabled(): boolean {
    return this.wanted && this.stream.isTTY === true;
  }

  show(line: string): void {
    if (!this.enabled) return;
    this.stream.write(`\r${line}\x1b[K`);
    this.drawn = true;
  }

  /** Ends the line so what follows starts on a fresh one. */
  done(): void {
    if (this.drawn) this.stream.write('\n');
    this.drawn = false;
  }
}
