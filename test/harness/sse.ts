/** Reads a server-sent-event stream (the MDC's change signal) as a test would watch it. */
export class SseReader {
  readonly events: Array<{ event: string; data: string; at: number }> = [];
  private readonly controller = new AbortController();
  private waiters: Array<() => void> = [];
  status = 0;

  static async open(url: string, headers: Record<string, string>): Promise<SseReader> {
    const reader = new SseReader();
    const res = await fetch(url, { headers, signal: reader.controller.signal });
    reader.status = res.status;
    if (res.ok && res.body) void reader.pump(res.body);
    return reader;
  }

  private async pump(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = 'message';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('event:')) event = line.slice(6).trim();
            else if (line.startsWith('data:')) data.push(line.slice(5).trim());
          }
          if (data.length > 0) this.events.push({ event, data: data.join('\n'), at: Date.now() });
          this.waiters.splice(0).forEach((w) => w());
        }
      }
    } catch {
      // aborted
    }
  }

  /** Resolves with the first event after index `from` that matches, or null after `timeoutMs`. */
  async next(
    from: number,
    timeoutMs: number,
    match: (data: any) => boolean = () => true,
  ): Promise<any | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.slice(from).find((e) => match(JSON.parse(e.data)));
      if (found) return JSON.parse(found.data);
      const left = deadline - Date.now();
      if (left <= 0) return null;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.controller.abort();
  }
}
