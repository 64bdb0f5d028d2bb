// A loopback TCP proxy between a client and a service, for tests that need the link to break: cut() resets every
// connection and refuses new ones (each is reset as soon as it is accepted, so the port stays ours), restore()
// forwards again. Bytes pass through untouched, so it works for any protocol (gRPC to etcd, Redis, MySQL).
import { createConnection, createServer, Server, Socket } from 'node:net';

export interface TcpProxy {
  /** The port the proxy listens on, on 127.0.0.1. */
  readonly port: number;
  /** `127.0.0.1:<port>`. */
  readonly address: string;
  /** Connections forwarded now. */
  readonly connections: number;
  /** True between cut() and restore(). */
  readonly isCut: boolean;
  /** Resets every open connection (both sides) and refuses new ones until restore(). */
  cut(): void;
  /** Forwards new connections again. */
  restore(): void;
  /** Stops listening and resets every connection. Safe to call twice. */
  close(): Promise<void>;
}

/** Listens on a free port of 127.0.0.1 and forwards each connection to `target` (`host:port`). */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<[Socket, Socket]>();
  let cut = false;
  let closed = false;

  // An RST, so that the client sees the break at once rather than at its next write. Not on a socket that is
  // still connecting or already half-closed (ended by pipe()): there libuv refuses the reset (EINVAL) and Node then
  // leaves the handle open, which keeps the process alive; a plain destroy() closes those.
  const reset = (pair: [Socket, Socket]): void => {
    pairs.delete(pair);
    for (const s of pair) {
      if (s.destroyed) continue;
      if (s.connecting || s.writableEnded) s.destroy();
      else s.resetAndDestroy();
    }
  };

  const server: Server = createServer({ noDelay: true }, (client) => {
    if (cut || closed) {
      client.on('error', () => undefined);
      client.resetAndDestroy();
      return;
    }
    const upstream = createConnection({ host: target.host, port: target.port, noDelay: true });
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    // Either side failing or ending takes the other with it, as a broken link would.
    for (const s of pair) {
      s.on('error', () => reset(pair));
      s.on('close', () => reset(pair));
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error(`tcp proxy: unexpected address ${address}`);
  const port = address.port;

  return {
    port,
    address: `127.0.0.1:${port}`,
    get connections() {
      return pairs.size;
    },
    get isCut() {
      return cut;
    },
    cut() {
      cut = true;
      for (const pair of [...pairs]) reset(pair);
    },
    restore() {
      cut = false;
    },
    close() {
      if (closed) return Promise.resolve();
      closed = true;
      for (const pair of [...pairs]) reset(pair);
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
