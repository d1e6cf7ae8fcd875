import { createConnection, createServer, Server, Socket } from 'node:net';

export interface RelayTarget {
  host: string;
  port: number;
}

/**
 * A TCP relay between a site and a peer (SPEC §4: a site may list its own address for a peer — a
 * tunnel to the master). Tests cut a site's link to the MDC for real with it (SPEC §12): `cut()`
 * resets every open connection and every new one at once, so the site sees a connection error
 * right away rather than a hang; `restore()` forwards again on the same port. As after any broken
 * link, a client's pooled keep-alive connection that the cut reset fails on its next use.
 */
export class TcpRelay {
  private readonly open = new Set<{ client: Socket; upstream: Socket }>();
  private linkCut = false;
  /** bytes forwarded from the target back to clients (answers), and from clients to the target */
  bytesDown = 0;
  bytesUp = 0;

  private constructor(
    private readonly server: Server,
    private to: RelayTarget,
    readonly port: number,
  ) {}

  get target(): RelayTarget {
    return this.to;
  }

  static start(target: RelayTarget): Promise<TcpRelay> {
    return new Promise((resolve, reject) => {
      const server = createServer({ pauseOnConnect: true });
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        const { port } = server.address() as { port: number };
        const relay = new TcpRelay(server, target, port);
        server.on('connection', (client) => relay.accept(client));
        resolve(relay);
      });
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Whether the link is cut now. */
  get isCut(): boolean {
    return this.linkCut;
  }

  /** Connections being forwarded now. */
  get connections(): number {
    return this.open.size;
  }

  /** Resets every open connection; new ones are reset as soon as they are accepted. */
  cut(): void {
    this.linkCut = true;
    for (const pair of this.open) this.drop(pair);
  }

  /**
   * New connections go to `target` from now on (a virtual IP moved to a promoted replica, say); open
   * ones stay where they are.
   */
  retarget(target: RelayTarget): void {
    this.to = target;
  }

  /** Forwards new connections again, on the same port. */
  restore(): void {
    this.linkCut = false;
  }

  close(): Promise<void> {
    this.linkCut = true;
    for (const pair of this.open) this.drop(pair);
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    if (this.linkCut) {
      client.resetAndDestroy();
      return;
    }
    const upstream = createConnection({ host: this.to.host, port: this.to.port });
    const pair = { client, upstream };
    this.open.add(pair);
    // A failure on either side (e.g. the MDC is down) reaches the client as a reset; a normal
    // close is passed on as one, so a response is never cut short.
    client.on('error', () => this.drop(pair));
    upstream.on('error', () => this.drop(pair));
    client.on('close', () => {
      this.open.delete(pair);
      upstream.destroy();
    });
    upstream.on('close', () => client.end());
    client.on('data', (chunk: Buffer) => (this.bytesUp += chunk.length));
    upstream.on('data', (chunk: Buffer) => (this.bytesDown += chunk.length));
    client.pipe(upstream);
    upstream.pipe(client);
    client.resume();
  }

  /** Closes both sides; the client gets a reset, as on a broken link. */
  private drop(pair: { client: Socket; upstream: Socket }): void {
    if (!this.open.delete(pair)) return;
    // No reset once a graceful shutdown is under way (`end()` sent): Node 20 can then keep the
    // handle alive at process exit (cf. libp2p/js-libp2p#3597); a FIN is close enough.
    if (pair.client.writableEnded) pair.client.destroy();
    else if (!pair.client.destroyed) pair.client.resetAndDestroy();
    pair.upstream.destroy();
  }
}
