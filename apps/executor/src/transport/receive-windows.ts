import type * as Http2 from 'node:http2';

/**
 * HTTP/2 receive windows of the executor's gRPC server: per stream (SETTINGS_INITIAL_WINDOW_SIZE) and per connection.
 * grpc-java's server default is 1 MiB; grpc-js's server keeps HTTP/2's 64 KiB and has no option for it (the client's
 * `grpc-node.flow_control_window` is not read by its server: grpc/grpc-node#3058). With 64 KiB, a dispatcher's
 * RunBatch calls during a burst (each 250 runs, ≈ 25 KiB) went through one window at a time, each waiting for the
 * executor's event loop, busy with the runs it had just taken, to read what had arrived and send WINDOW_UPDATE: W2's
 * later slices reached the executor 300-600 ms after they were sent (docs/benchmarks.md, issue 9).
 */
export const STREAM_WINDOW_BYTES = 1024 * 1024;
export const SESSION_WINDOW_BYTES = 8 * 1024 * 1024;

type Http2Module = typeof Http2;

/**
 * Runs `bind` (the gRPC server's bind) with the HTTP/2 servers created meanwhile given wider receive windows: their
 * settings advertise `streamBytes` a stream, and each session raises its connection window to `sessionBytes` as it
 * starts. Only servers created during `bind` are changed; http2.createServer and createSecureServer are Node's own
 * again when it settles. (grpc-js creates its server with `require('http2').createServer` as it binds: that module
 * object is what is wrapped here, not a copy of it.)
 */
export async function withWideReceiveWindows<T>(
  bind: () => Promise<T>,
  streamBytes = STREAM_WINDOW_BYTES,
  sessionBytes = SESSION_WINDOW_BYTES,
): Promise<T> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const http2 = require('node:http2') as Http2Module;
  const { createServer, createSecureServer } = http2;
  const widen = <S extends Http2.Http2Server | Http2.Http2SecureServer>(server: S): S => {
    server.on('session', (session: Http2.ServerHttp2Session) => {
      // Before any frame of the peer is read: the first burst is not held to 64 KiB either.
      if (!session.destroyed) session.setLocalWindowSize(sessionBytes);
    });
    return server;
  };
  const withWindow = <O extends Http2.ServerOptions>(options: O | undefined): O =>
    ({ ...options, settings: { ...options?.settings, initialWindowSize: streamBytes } }) as O;
  const wrapped = {
    createServer: (options?: Http2.ServerOptions, listener?: Parameters<typeof createServer>[1]) =>
      widen(createServer(withWindow(options), listener)),
    createSecureServer: (options?: Http2.SecureServerOptions, listener?: Parameters<typeof createSecureServer>[1]) =>
      widen(createSecureServer(withWindow(options), listener)),
  };
  Object.assign(http2, wrapped);
  try {
    return await bind();
  } finally {
    Object.assign(http2, { createServer, createSecureServer });
  }
}
