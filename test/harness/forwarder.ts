import { createServer, Server, Socket } from 'node:net';

export interface RelayTarget {
  host: string;
  port: number;
}

/** A client's connection and the one it is forwarded on. */
export interface ForwardedPair {
  client: Socket;
  upstream: Socket;
}

/**
 * What the harness's TCP forwarders (TcpRelay, TcpBalancer) share: a listener on 127.0.0.1 at a
 * free port whose connections arrive paused, and the forwarding of a client's connection both ways.
 */
export abstract class TcpForwarder<P extends ForwardedPair = ForwardedPair> {
  /** pairs being forwarded now */
  protected readonly open = new Set<P>();

  protected constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  /** Listens, makes the forwarder with `make(server, port)`, hands it each connection, paused. */
  protected static listen<T extends TcpForwarder<any>>(
    make: (server: Server, port: number) => T,
    accept: (forwarder: T, client: Socket) => void,
  ): Promise<T> {
    return new Promise((resolve, reject) => {
      const server = createServer({ pauseOnConnect: true });
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        const { port } = server.address() as { port: number };
        const forwarder = make(server, port);
        server.on('connection', (client) => accept(forwarder, client));
        resolve(forwarder);
      });
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Where to send a client that should reach what this forwards to. */
  get address(): RelayTarget {
    return { host: '127.0.0.1', port: this.port };
  }

  /** Resets every open connection and stops listening. */
  protected closeServer(): Promise<void> {
    for (const pair of this.open) this.drop(pair);
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /**
   * Forwards `pair` both ways. A failure on either side (e.g. the far end is down) reaches the
   * client as a reset; a normal close is passed on as one, so a response is never cut short.
   */
  protected splice(pair: P): void {
    const { client, upstream } = pair;
    this.open.add(pair);
    client.on('error', () => this.drop(pair));
    upstream.on('error', () => this.drop(pair));
    client.on('close', () => {
      this.open.delete(pair);
      upstream.destroy();
    });
    upstream.on('close', () => client.end());
    client.pipe(upstream);
    upstream.pipe(client);
    client.resume();
  }

  /** Closes both sides; the client gets a reset, as on a broken link. */
  protected drop(pair: P): void {
    if (!this.open.delete(pair)) return;
    // No reset once a graceful shutdown is under way (`end()` sent): Node 20 can then keep the
    // handle alive at process exit (cf. libp2p/js-libp2p#3597); a FIN is close enough.
    if (pair.client.writableEnded) pair.client.destroy();
    else if (!pair.client.destroyed) pair.client.resetAndDestroy();
    pair.upstream.destroy();
  }
}
