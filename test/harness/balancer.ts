import { createConnection, Server, Socket } from 'node:net';
import { ForwardedPair, RelayTarget, TcpForwarder } from './forwarder';

interface BackendPair extends ForwardedPair {
  backend: number;
}

/**
 * A round-robin TCP balancer in front of several replicas (SPEC §11: MDC replicas behind a load
 * balancer), as HAProxy in TCP mode runs one: each new client connection goes to the next backend;
 * a backend that refuses the connection (ECONNREFUSED: its process is gone) is skipped for that
 * connection and the next one tried; if every backend refuses, the client gets a reset. A
 * connection already forwarded to a backend that dies just breaks — the client sees a reset or an
 * early close, as through a real L4 balancer — and is not moved anywhere.
 */
export class TcpBalancer extends TcpForwarder<BackendPair> {
  /** every client socket not closed yet, forwarded or not (a closing one may wait for its peer's FIN) */
  private readonly clients = new Set<Socket>();
  private next = 0;
  /** connections forwarded so far, per backend (index into `backends`) */
  readonly accepted: number[];
  /** connection attempts a backend refused (ECONNREFUSED), per backend */
  readonly refused: number[];

  private constructor(
    server: Server,
    readonly backends: readonly RelayTarget[],
    port: number,
  ) {
    super(server, port);
    this.accepted = backends.map(() => 0);
    this.refused = backends.map(() => 0);
  }

  static start(backends: RelayTarget[]): Promise<TcpBalancer> {
    if (backends.length === 0) throw new Error('a balancer needs at least one backend');
    return TcpForwarder.listen(
      (server, port) => new TcpBalancer(server, backends, port),
      (balancer, client) => balancer.accept(client),
    );
  }

  /** Connections being forwarded now, per backend. */
  connections(): number[] {
    const counts = this.backends.map(() => 0);
    for (const pair of this.open) counts[pair.backend] += 1;
    return counts;
  }

  close(): Promise<void> {
    for (const client of this.clients) client.destroy();
    return this.closeServer();
  }

  private accept(client: Socket): void {
    const first = this.next;
    this.next = (this.next + 1) % this.backends.length;
    // a client that goes away while its backend is being chosen is not forwarded anywhere
    let gone = false;
    this.clients.add(client);
    client.once('close', () => {
      gone = true;
      this.clients.delete(client);
    });
    client.on('error', () => client.destroy());
    this.connect(client, first, 0, () => gone);
  }

  /** Tries backend `index`; on a refusal, the next one, until every backend was tried once. */
  private connect(client: Socket, index: number, tried: number, gone: () => boolean): void {
    if (gone()) return;
    if (tried === this.backends.length) {
      client.resetAndDestroy();
      return;
    }
    const backend = index % this.backends.length;
    const upstream = createConnection(this.backends[backend]);
    const failed = (err: NodeJS.ErrnoException) => {
      upstream.destroy();
      if (err.code !== 'ECONNREFUSED') {
        if (!client.destroyed) client.resetAndDestroy();
        return;
      }
      this.refused[backend] += 1;
      this.connect(client, backend + 1, tried + 1, gone);
    };
    upstream.once('error', failed);
    upstream.once('connect', () => {
      upstream.off('error', failed);
      if (gone()) {
        upstream.destroy();
        return;
      }
      this.accepted[backend] += 1;
      this.splice({ client, upstream, backend });
    });
  }
}
