import { createConnection, Server, Socket } from 'node:net';
import { RelayTarget, TcpForwarder } from './forwarder';

export type { RelayTarget } from './forwarder';

/**
 * A TCP relay between a site and a peer (SPEC §4: a site may list its own address for a peer — a
 * tunnel to the master). Tests cut a site's link to the MDC for real with it (SPEC §12): `cut()`
 * resets every open connection and every new one at once, so the site sees a connection error
 * right away rather than a hang; `restore()` forwards again on the same port. As after any broken
 * link, a client's pooled keep-alive connection that the cut reset fails on its next use.
 */
export class TcpRelay extends TcpForwarder {
  private linkCut = false;
  /** client connections `freeze` left open and silent */
  private readonly silent = new Set<Socket>();
  /** bytes forwarded from the target back to clients (answers), and from clients to the target */
  bytesDown = 0;
  bytesUp = 0;

  private constructor(
    server: Server,
    private forwardTo: RelayTarget,
    port: number,
  ) {
    super(server, port);
  }

  static start(target: RelayTarget): Promise<TcpRelay> {
    return TcpForwarder.listen(
      (server, port) => new TcpRelay(server, target, port),
      (relay, client) => relay.accept(client),
    );
  }

  /** Where new connections go. */
  get target(): RelayTarget {
    return this.forwardTo;
  }

  /**
   * Forwards new connections to `target` from now on (e.g. a balancer in front of several MDC
   * replicas); open connections are reset, so the site's next call, and its signal stream, take
   * the new way.
   */
  retarget(target: RelayTarget): void {
    this.forwardTo = target;
    for (const pair of this.open) this.drop(pair);
  }

  /**
   * The host behind the open connections dies, as in a failover the address of which is a DNS name:
   * each open connection goes silent — nothing forwarded either way, nothing closed, no reset, so
   * a client learns of it only by a timeout of its own — and new connections go to `target`.
   */
  freeze(target: RelayTarget): void {
    this.forwardTo = target;
    for (const pair of this.open) {
      this.open.delete(pair);
      pair.client.unpipe(pair.upstream);
      pair.upstream.unpipe(pair.client);
      pair.client.pause();
      // the far end goes without a word to the client
      pair.upstream.removeAllListeners('close');
      pair.upstream.destroy();
      this.silent.add(pair.client);
    }
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

  /** Forwards new connections again, on the same port. */
  restore(): void {
    this.linkCut = false;
  }

  close(): Promise<void> {
    this.linkCut = true;
    for (const client of this.silent) client.destroy();
    this.silent.clear();
    return this.closeServer();
  }

  private accept(client: Socket): void {
    if (this.linkCut) {
      client.resetAndDestroy();
      return;
    }
    const upstream = createConnection({ host: this.forwardTo.host, port: this.forwardTo.port });
    client.on('data', (chunk: Buffer) => (this.bytesUp += chunk.length));
    upstream.on('data', (chunk: Buffer) => (this.bytesDown += chunk.length));
    this.splice({ client, upstream });
  }
}
