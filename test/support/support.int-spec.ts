// Checks the test support code itself: waitFor, the HTTP stub and client, the
// process launcher (on a throwaway script, not the built apps) and createMysqlDatabase
// against the MariaDB that scripts/test-services.sh runs.
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { cleanEnv, httpJson, startApp, startHttpStub, startNodeScript, stopAllApps } from './processes';
import { createMysqlDatabase, freePort, testServices, tmpDir, uniquePrefix } from './services';
import { waitFor } from './wait';

const dirs: string[] = [];
const scratch = (suite: string): string => {
  const dir = tmpDir(suite);
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('waitFor', () => {
  it('returns the first truthy value', async () => {
    let calls = 0;
    const value = await waitFor(() => (++calls >= 3 ? { calls } : undefined), {
      timeoutMs: 2000,
      intervalMs: 5,
      what: 'third call',
    });
    expect(value).toEqual({ calls: 3 });
  });

  it('treats thrown errors as "not yet"', async () => {
    let calls = 0;
    const value = await waitFor(
      async () => {
        calls += 1;
        if (calls < 3) throw new Error('not yet');
        return 'ok';
      },
      { timeoutMs: 2000, intervalMs: 5, what: 'no error' },
    );
    expect(value).toBe('ok');
  });

  it('names what it waited for and the last value on timeout', async () => {
    const started = Date.now();
    await expect(waitFor(() => false, { timeoutMs: 150, intervalMs: 20, what: 'the impossible' })).rejects.toThrow(
      /waiting for the impossible .*last value: false/,
    );
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('reports the last error on timeout', async () => {
    await expect(
      waitFor(
        () => {
          throw new Error('connection refused');
        },
        { timeoutMs: 100, intervalMs: 10, what: 'a server' },
      ),
    ).rejects.toThrow(/a server .*last error: Error: connection refused/);
  });

  it('abandons a probe that hangs past the deadline', async () => {
    const started = Date.now();
    await expect(
      waitFor(() => new Promise<boolean>(() => undefined), { timeoutMs: 100, what: 'a hung probe' }),
    ).rejects.toThrow(/a hung probe .*still pending/);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('stops when its signal aborts', async () => {
    const abort = new AbortController();
    const pending = waitFor(() => false, { timeoutMs: 10_000, intervalMs: 10, what: 'never', signal: abort.signal });
    abort.abort(new Error('process exited'));
    await expect(pending).rejects.toThrow('process exited');
  });
});

describe('HTTP stub and httpJson', () => {
  it('records requests and answers by path', async () => {
    const stub = await startHttpStub();
    try {
      const ok = await httpJson('POST', `${stub.url}/hook?x=1`, { hello: 'world' });
      expect(ok).toMatchObject({ status: 200, body: { ok: true } });
      const failed = await httpJson('GET', `${stub.url}/status/503`);
      expect(failed.status).toBe(503);
      expect(failed.body).toEqual({ status: 503 });

      expect(stub.requests).toHaveLength(2);
      expect(stub.requests[0]).toMatchObject({ method: 'POST', url: '/hook?x=1', body: '{"hello":"world"}' });
      expect(stub.requests[0].headers['content-type']).toBe('application/json');
      expect(typeof stub.requests[0].time).toBe('number');
    } finally {
      await stub.close();
    }
  });

  it('/delay answers late, /slow never; close() ends a hanging request', async () => {
    const stub = await startHttpStub();
    const started = Date.now();
    const delayed = await httpJson('GET', `${stub.url}/delay/200`);
    expect(delayed.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);

    await expect(httpJson('GET', `${stub.url}/slow`, undefined, { timeoutMs: 200 })).rejects.toThrow(/no response/);
    const hanging = httpJson('GET', `${stub.url}/slow`, undefined, { timeoutMs: 10_000 });
    await waitFor(() => stub.requests.filter((r) => r.url === '/slow').length === 2, {
      timeoutMs: 2000,
      intervalMs: 10,
      what: 'the second /slow request to arrive',
    });
    await stub.close();
    await expect(hanging).rejects.toThrow();
  });
});

describe('services', () => {
  it('freePort gives a port that can be listened on', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    const net = await import('node:net');
    await new Promise<void>((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
    });
  });

  it('uniquePrefix and tmpDir are unique per call', () => {
    expect(uniquePrefix('My Suite')).toMatch(/^gocron-test-my-suite-\d+-[0-9a-f]{8}$/);
    expect(uniquePrefix('a')).not.toBe(uniquePrefix('a'));
    const a = scratch('x');
    const b = scratch('x');
    expect(a).not.toBe(b);
    writeFileSync(join(a, 'probe'), 'ok');
  });

  it('createMysqlDatabase creates a usable database and drop() removes it', async () => {
    const db = await createMysqlDatabase('support spec');
    expect(db.name).toMatch(/^gocron_test_support_spec_\d+_[0-9a-f]{8}$/);
    expect(db.env).toMatchObject({
      GOCRON_DATABASE_TYPE: 'mysql',
      GOCRON_DATABASE_DATABASE: db.name,
      GOCRON_DATABASE_PORT: String(testServices().mysql.port),
    });

    const { mysql } = testServices();
    const conn = await createConnection({
      host: mysql.host,
      port: mysql.port,
      user: mysql.user,
      password: mysql.password,
    });
    try {
      const exists = async (): Promise<boolean> => {
        const [rows] = await conn.query('SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [
          db.name,
        ]);
        return (rows as unknown[]).length === 1;
      };
      expect(await exists()).toBe(true);
      await conn.query(`CREATE TABLE \`${db.name}\`.t (id INT PRIMARY KEY)`);
      await conn.query(`INSERT INTO \`${db.name}\`.t VALUES (1)`);

      await db.drop();
      expect(await exists()).toBe(false);
      await db.drop(); // idempotent
    } finally {
      await conn.end();
    }
  });
});

describe('process launcher', () => {
  afterAll(() => stopAllApps());

  it('cleanEnv drops GOCRON_* but keeps GOCRON_TEST_*', () => {
    process.env.GOCRON_DATABASE_TYPE = 'mysql';
    process.env.GOCRON_TEST_SOMETHING = 'kept';
    try {
      const env = cleanEnv();
      expect(env.GOCRON_DATABASE_TYPE).toBeUndefined();
      expect(env.GOCRON_TEST_SOMETHING).toBe('kept');
      expect(env.PATH).toBe(process.env.PATH);
    } finally {
      delete process.env.GOCRON_DATABASE_TYPE;
      delete process.env.GOCRON_TEST_SOMETHING;
    }
  });

  // A stand-in for an app: serves GET / on GOCRON_DISPATCHER_PORT, logs, exits 0 on SIGTERM,
  // ignores SIGTERM when IGNORE_TERM=1, exits 3 at once when FAIL=1.
  const fakeApp = (): string => {
    const file = join(scratch('fake-app'), 'main.js');
    writeFileSync(
      file,
      `
const http = require('node:http');
if (process.env.FAIL === '1') { console.error('boom: bad config'); process.exit(3); }
const leaked = Object.keys(process.env).filter((k) => k.startsWith('GOCRON_') && !k.startsWith('GOCRON_TEST_') && k !== 'GOCRON_DISPATCHER_PORT');
const server = http.createServer((req, res) => res.end(JSON.stringify({ pid: process.pid, argv: process.argv.slice(2), leaked })));
server.listen(Number(process.env.GOCRON_DISPATCHER_PORT), '127.0.0.1', () => console.log('listening on ' + server.address().port));
process.on('SIGTERM', () => {
  if (process.env.IGNORE_TERM === '1') { console.log('ignoring SIGTERM'); return; }
  console.log('draining');
  server.close(() => process.exit(0));
});
`,
    );
    return file;
  };

  it('starts a script, waits until ready, captures logs and stops it with SIGTERM', async () => {
    const port = await freePort();
    process.env.GOCRON_EXECUTOR_GROUP = 'leaked-from-shell';
    let app;
    try {
      app = await startNodeScript(fakeApp(), {
        name: 'fake',
        env: { GOCRON_DISPATCHER_PORT: String(port) },
        args: ['--config', 'x.ini'],
        ready: async () => (await httpJson('GET', `http://127.0.0.1:${port}/`)).status === 200,
      });
    } finally {
      delete process.env.GOCRON_EXECUTOR_GROUP;
    }
    const res = await httpJson('GET', `http://127.0.0.1:${port}/`);
    expect(res.body).toEqual({ pid: app.pid, argv: ['--config', 'x.ini'], leaked: [] });
    await expect(app.waitForLog(/listening on \d+/, 5000)).resolves.toBe(`listening on ${port}`);

    const code = await app.kill();
    expect(code).toBe(0);
    expect(app.logs()).toContain('draining');
    await expect(app.exited).resolves.toEqual({ code: 0, signal: null });
    expect(await app.kill()).toBe(0); // already exited: no-op
  });

  it('rejects with the exit code and the last log lines when the process dies before ready', async () => {
    await expect(
      startNodeScript(fakeApp(), { name: 'broken', env: { FAIL: '1' }, ready: async () => false }),
    ).rejects.toThrow(/broken exited \(exit code 3\) before it was ready[\s\S]*boom: bad config/);
  });

  it('rejects on a ready timeout and kills the process', async () => {
    const port = await freePort();
    const err = await startNodeScript(fakeApp(), {
      name: 'never-ready',
      env: { GOCRON_DISPATCHER_PORT: String(port) },
      ready: async () => false,
      readyTimeoutMs: 500,
    }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/never-ready to be ready[\s\S]*listening on/);
    await expect(httpJson('GET', `http://127.0.0.1:${port}/`, undefined, { timeoutMs: 1000 })).rejects.toThrow();
  });

  it('waitForLog fails when the process exits first; stopAllApps kills what ignores SIGTERM', async () => {
    const port = await freePort();
    const app = await startNodeScript(fakeApp(), {
      name: 'stubborn',
      env: { GOCRON_DISPATCHER_PORT: String(port), IGNORE_TERM: '1' },
      ready: async () => (await httpJson('GET', `http://127.0.0.1:${port}/`)).status === 200,
    });
    process.kill(app.pid, 'SIGTERM');
    await app.waitForLog(/ignoring SIGTERM/, 5000);
    const never = app.waitForLog(/never printed/, 30_000);
    await stopAllApps();
    await expect(app.exited).resolves.toEqual({ code: null, signal: 'SIGKILL' });
    await expect(never).rejects.toThrow(/stubborn exited \(signal SIGKILL\) before logging/);
  });

  it('startApp explains a missing build', async () => {
    const main = join(__dirname, '..', '..', 'dist', 'apps', 'dispatcher', 'main.js');
    if (existsSync(main)) return; // built: nothing to check here
    await expect(startApp('dispatcher', { env: {}, ready: async () => true })).rejects.toThrow(/npm run build/);
  });
});
