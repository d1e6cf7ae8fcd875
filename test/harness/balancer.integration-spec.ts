import { createConnection, createServer, Server, Socket } from 'node:net';
import { freePort } from './cluster-files';
import { TcpBalancer } from './balancer';

/** A backend that answers each connection with its name, then closes it. */
function backend(name: string): Promise<{ server: Server; port: number }> {
  return new Promise((resolve) => {
    const server = createServer((socket) => socket.end(name));
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, port: (server.address() as { port: number }).port }),
    );
  });
}

/** Connects through the balancer; resolves with what came back, or `reset` / `closed` if nothing did. */
function ask(balancer: TcpBalancer): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const socket = createConnection(balancer.address);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', () => resolve(text || 'reset'));
    socket.on('close', () => resolve(text || 'closed'));
  });
}

const stop = (server: Server) => new Promise((resolve) => server.close(resolve));

describe('TcpBalancer (test harness)', () => {
  it('sends each new connection to the next backend, skips one that refuses, resets when none accepts', async () => {
    const [one, two] = await Promise.all([backend('one'), backend('two')]);
    const dead = await freePort();
    const balancer = await TcpBalancer.start([
      { host: '127.0.0.1', port: one.port },
      { host: '127.0.0.1', port: dead },
      { host: '127.0.0.1', port: two.port },
    ]);
    try {
      const answers: string[] = [];
      for (let i = 0; i < 6; i++) answers.push(await ask(balancer));
      // round robin; the dead backend's turn goes to the next live one
      expect(answers).toEqual(['one', 'two', 'two', 'one', 'two', 'two']);
      expect(balancer.accepted).toEqual([2, 0, 4]);
      expect(balancer.refused).toEqual([0, 2, 0]);

      await stop(one.server);
      expect(await ask(balancer)).toBe('two');
      await stop(two.server);
      expect(await ask(balancer)).toBe('reset');
    } finally {
      await balancer.close();
      await Promise.all([one, two].map((b) => (b.server.listening ? stop(b.server) : undefined)));
    }
  });

  it('breaks an open connection when its backend goes away, and does not move it', async () => {
    const sockets: Socket[] = [];
    const server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const balancer = await TcpBalancer.start([
      { host: '127.0.0.1', port: (server.address() as { port: number }).port },
    ]);
    try {
      const answer = ask(balancer);
      await new Promise((r) => setTimeout(r, 50));
      expect(balancer.connections()).toEqual([1]);
      sockets[0].resetAndDestroy();
      expect(['reset', 'closed']).toContain(await answer);
    } finally {
      await balancer.close();
      await stop(server);
    }
  });
});
