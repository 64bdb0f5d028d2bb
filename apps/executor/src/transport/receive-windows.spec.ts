import * as grpc from '@grpc/grpc-js';
import * as http2 from 'node:http2';
import { STREAM_WINDOW_BYTES, withWideReceiveWindows } from './receive-windows';

/** What a peer connecting to `port` is told: the server's stream window (its SETTINGS) and its connection window. */
async function windowsOf(
  port: number,
  serverSessions: http2.ServerHttp2Session[],
): Promise<{ stream: number | undefined; session: number | undefined }> {
  const client = http2.connect(`http://127.0.0.1:${port}`);
  try {
    const stream = await new Promise<number | undefined>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no SETTINGS from the server within 5 s')), 5000);
      client.once('error', reject);
      client.once('remoteSettings', (s) => {
        clearTimeout(timer);
        resolve(s.initialWindowSize);
      });
    });
    const session = serverSessions[0]?.state.localWindowSize;
    return { stream, session };
  } finally {
    client.destroy();
  }
}

describe('withWideReceiveWindows', () => {
  it("widens a grpc-js server's HTTP/2 windows as it binds, and leaves http2 as it was", async () => {
    const { createServer, createSecureServer } = http2;
    const server = new grpc.Server();
    const port = await withWideReceiveWindows(
      () =>
        new Promise<number>((resolve, reject) =>
          server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
            e ? reject(e) : resolve(p),
          ),
        ),
    );
    try {
      // grpc-js gives no public handle on its http2 server: the window is read off a connection, as a peer sees it.
      const client = http2.connect(`http://127.0.0.1:${port}`);
      const settings = await new Promise<http2.Settings>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no SETTINGS from the server within 5 s')), 5000);
        client.once('error', reject);
        client.once('remoteSettings', (s) => {
          clearTimeout(timer);
          resolve(s);
        });
      });
      client.destroy();
      expect(settings.initialWindowSize).toBe(STREAM_WINDOW_BYTES);
    } finally {
      server.forceShutdown();
    }
    expect(http2.createServer).toBe(createServer);
    expect(http2.createSecureServer).toBe(createSecureServer);
  });

  it('raises each session’s connection window; servers created outside it keep the defaults', async () => {
    const sessions: http2.ServerHttp2Session[] = [];
    const wide = await withWideReceiveWindows(() => Promise.resolve(http2.createServer()), 256 * 1024, 2 * 1024 * 1024);
    const plain = http2.createServer();
    const plainSessions: http2.ServerHttp2Session[] = [];
    wide.on('session', (s) => sessions.push(s));
    plain.on('session', (s) => plainSessions.push(s));
    const listen = (s: http2.Http2Server) =>
      new Promise<number>((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as { port: number }).port)));
    try {
      expect(await windowsOf(await listen(wide), sessions)).toEqual({ stream: 256 * 1024, session: 2 * 1024 * 1024 });
      const defaults = await windowsOf(await listen(plain), plainSessions);
      expect(defaults.stream).toBe(65535);
      expect(defaults.session).toBe(65535);
    } finally {
      for (const s of [...sessions, ...plainSessions]) s.destroy();
      await Promise.all([wide, plain].map((s) => new Promise((r) => s.close(r))));
    }
  });

  it('restores http2 when the bind fails', async () => {
    const { createServer } = http2;
    await expect(withWideReceiveWindows(() => Promise.reject(new Error('port taken')))).rejects.toThrow('port taken');
    expect(http2.createServer).toBe(createServer);
  });
});
