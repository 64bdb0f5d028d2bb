// HTTP task egress (issue 13, item 5), end to end: a dispatcher and an executor as real processes. An HTTP job may
// not reach the metadata address, "this network" or a dispatcher's API, however the address is spelled, by a name
// that resolves there, or through a redirect; http_allow opens what an operator wants open.
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { Api, Dispatcher, sqliteEnv, startDispatcher, startExecutor } from './support/gocron';
import { HttpStub, startHttpStub, stopAllApps } from './support/processes';
import { etcdEnv, freePort, testServices } from './support/services';
import { waitFor } from './support/wait';

const ONCE_A_YEAR = '0 0 1 1 *';

/** Answers every request with a redirect to `?to=`, counting what it got. */
function startRedirector(): Promise<{ url: string; hits: () => number; server: Server }> {
  let hits = 0;
  const server = createServer((req, res) => {
    hits++;
    const to = new URL(req.url ?? '/', 'http://x').searchParams.get('to') ?? '/';
    res.writeHead(302, { location: to }).end('moved');
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits: () => hits, server }),
    ),
  );
}

describe('HTTP task egress', () => {
  let dispatcher: Dispatcher;
  let api: Api;
  let stub: HttpStub;
  let redirector: Awaited<ReturnType<typeof startRedirector>>;

  beforeAll(async () => {
    const env = { ...(await sqliteEnv('http-egress')), ...etcdEnv('http-egress') };
    stub = await startHttpStub();
    redirector = await startRedirector();
    dispatcher = await startDispatcher(env, 'egress-dispatcher');
    // The executor is not told the dispatcher's port: it learns the API address from the dispatcher's etcd entry.
    // The stub's port is allowed although 127.0.0.0/8 is denied: http_allow wins.
    await startExecutor(
      { ...env, GOCRON_EXECUTOR_HTTP_DENY: '0.0.0.0/8, 169.254.0.0/16, 127.0.0.2/32', GOCRON_EXECUTOR_HTTP_ALLOW: '' },
      'egress-executor',
    );
    api = new Api(dispatcher.base);
    await waitFor(async () => (await api.call<unknown[]>('GET', '/api/executors')).body.length === 1, {
      timeoutMs: 20_000,
      what: 'the executor is listed',
    });
  });

  afterAll(async () => {
    await stopAllApps();
    await stub?.close();
    await new Promise((resolve) => redirector?.server.close(resolve));
  });

  async function runOnce(url: string) {
    const job = await api.createJob({
      name: `egress-${Math.random()}`,
      cron: ONCE_A_YEAR,
      type: 'http',
      http: { method: 'GET', url },
    });
    const runId = await api.trigger(job.id);
    return api.waitForRunStatus(runId, ['succeeded', 'failed'], 30_000);
  }

  it.each([
    [
      'http://169.254.169.254/latest/meta-data/',
      /169\.254\.169\.254 is in \[executor\] http_deny \(169\.254\.0\.0\/16\)/,
    ],
    ['http://0xa9fea9fe/', /169\.254\.169\.254 is in \[executor\] http_deny/],
    ['http://[::ffff:a9fe:a9fe]/', /169\.254\.169\.254 is in \[executor\] http_deny/],
    ['http://0x7f000002:1/', /127\.0\.0\.2 is in \[executor\] http_deny/],
    ['http://0.0.0.0:1/', /0\.0\.0\.0 is "this host"/],
    ['http://[::]:1/', /0\.0\.0\.0 is "this host"/],
  ])('refuses %s, naming the rule and storing nothing', async (url, why) => {
    const run = await runOnce(url);
    expect(run).toMatchObject({ status: 'failed', httpStatus: null });
    expect(run.error).toMatch(/^egress refused: /);
    expect(run.error).toMatch(why);
    expect(run.output ?? '').toBe('');
  });

  it('refuses a redirect to the metadata address, keeping no body', async () => {
    const before = redirector.hits();
    const run = await runOnce(`${redirector.url}/?to=http://169.254.169.254/latest/meta-data/`);
    expect(run.status).toBe('failed');
    expect(run.error).toBe('egress refused: 169.254.169.254 is in [executor] http_deny (169.254.0.0/16)');
    expect(run.output ?? '').toBe('');
    expect(redirector.hits()).toBe(before + 1);
  });

  it("refuses the dispatcher's own API, directly, by name and through a redirect", async () => {
    const port = dispatcher.port;
    for (const url of [
      `http://127.0.0.1:${port}/api/health`,
      `http://localhost:${port}/api/health`,
      `${redirector.url}/?to=http://127.0.0.1:${port}/api/jobs`,
    ]) {
      const run = await runOnce(url);
      expect(run.status).toBe('failed');
      expect(run.error).toMatch(new RegExp(`127\\.0\\.0\\.1:${port} is a dispatcher's API`));
    }
  });

  it("refuses etcd's API (a task could list an executor of its own there and collect the executor token)", async () => {
    const etcd = new URL(testServices().etcdHosts.split(',')[0]);
    const run = await runOnce(`http://${etcd.host}/v3/kv/range`);
    expect(run.status).toBe('failed');
    expect(run.error).toMatch(/is etcd's API \(\[etcd\] hosts\)/);
  });

  it('reaches loopback services that are not denied', async () => {
    const run = await runOnce(`${stub.url}/ok`);
    expect(run).toMatchObject({ status: 'succeeded', httpStatus: 200 });
    expect(stub.requests.some((r) => r.url === '/ok')).toBe(true);
  });
});

describe('HTTP task egress: http_allow and the static dispatcher address', () => {
  afterAll(() => stopAllApps());

  it('knows the dispatcher from [dispatcher] host:port without etcd, and http_allow opens it', async () => {
    const env = await sqliteEnv('http-egress-static');
    const executorPort = await freePort();
    const dispatcher = await startDispatcher(
      { ...env, GOCRON_EXECUTOR_STATIC_TARGETS: `127.0.0.1:${executorPort}` },
      'egress-static-dispatcher',
    );
    const api = new Api(dispatcher.base);
    const shared = { ...env, GOCRON_DISPATCHER_PORT: String(dispatcher.port) };
    let executor = await startExecutor(shared, 'egress-static-executor', executorPort);
    const health = `http://127.0.0.1:${dispatcher.port}/api/health`;
    const job = await api.createJob({
      name: 'to-dispatcher',
      cron: ONCE_A_YEAR,
      type: 'http',
      http: { method: 'GET', url: health },
    });
    const refused = await api.waitForRunStatus(await api.trigger(job.id), ['succeeded', 'failed'], 30_000);
    expect(refused.error).toMatch(/is a dispatcher's API/);

    await executor.app.kill('SIGTERM');
    executor = await startExecutor(
      { ...shared, GOCRON_EXECUTOR_HTTP_ALLOW: '127.0.0.1' },
      'egress-static-executor-2',
      executorPort,
    );
    await waitFor(async () => (await api.call<unknown[]>('GET', '/api/executors')).body.length === 1, {
      timeoutMs: 20_000,
      what: 'the restarted executor is listed',
    });
    const allowed = await api.waitForRunStatus(await api.trigger(job.id), ['succeeded', 'failed'], 30_000);
    expect(allowed).toMatchObject({ status: 'succeeded', httpStatus: 200 });
    expect(allowed.output).toContain('"status"');
  });
});
