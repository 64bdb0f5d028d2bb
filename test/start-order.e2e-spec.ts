// Free start order: a dispatcher and an executor started before etcd (and with Redis not there at all) wait with
// back-off, say so, and come up by themselves once etcd starts; scheduling then runs with the lock degraded.
import { spawn, ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Api, startDispatcher, startExecutor } from './support/gocron';
import { startApp, stopAllApps } from './support/processes';
import { createMysqlDatabase, freePort, TestDatabase, tmpDir } from './support/services';
import { waitFor } from './support/wait';

describe('free start order', () => {
  let db: TestDatabase;
  let etcd: ChildProcess | null = null;

  afterAll(async () => {
    await stopAllApps();
    etcd?.kill('SIGKILL');
    await db?.drop();
  });

  it('processes started before etcd, with Redis missing, wait and then schedule', async () => {
    db = await createMysqlDatabase('start_order');
    const [etcdPort, peerPort, deadRedisPort, dispatcherPort, executorPort] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    const env = {
      ...db.env,
      GOCRON_ETCD_HOSTS: `http://127.0.0.1:${etcdPort}`,
      GOCRON_ETCD_PREFIX: '/start-order',
      GOCRON_ETCD_LEASE_TTL: '2',
      GOCRON_REDIS_URL: `redis://127.0.0.1:${deadRedisPort}`,
    };
    // Not awaited: neither can be ready before etcd is up.
    const dispatcherStarting = startDispatcher(env, 'd-early', dispatcherPort);
    const executorStarting = startExecutor(env, 'e-early', executorPort);
    const early = await startApp('dispatcher', {
      name: 'd-probe',
      env: { ...env, GOCRON_DISPATCHER_PORT: String(await freePort()) },
      ready: () => Promise.resolve(true),
    });
    await early.waitForLog(/etcd not reachable .* retrying/, 30_000);

    etcd = spawn(
      '/usr/bin/etcd',
      [
        '--data-dir',
        join(tmpDir('etcd'), 'data'),
        '--listen-client-urls',
        `http://127.0.0.1:${etcdPort}`,
        '--advertise-client-urls',
        `http://127.0.0.1:${etcdPort}`,
        '--listen-peer-urls',
        `http://127.0.0.1:${peerPort}`,
        '--initial-advertise-peer-urls',
        `http://127.0.0.1:${peerPort}`,
        '--initial-cluster',
        `default=http://127.0.0.1:${peerPort}`,
      ],
      { stdio: 'ignore' },
    );
    const dispatcher = await dispatcherStarting;
    await executorStarting;
    const api = new Api(dispatcher.base);
    await waitFor(async () => (await api.call<unknown[]>('GET', '/api/executors')).body.length === 1, {
      timeoutMs: 20_000,
      what: 'the executor registers in etcd',
    });
    const health = await api.call<{ status: string; checks: Record<string, { status: string }> }>('GET', '/api/health');
    expect(health.status).toBe(200);
    expect(health.body.status).toBe('degraded');
    expect(health.body.checks.lock.status).toBe('degraded');
    expect(health.body.checks.discovery.status).toBe('ok');
    const job = await api.createJob({ name: 'after-start', cron: '* * * * * *', type: 'shell', command: 'echo up' });
    const run = await api.waitForRun(job.id, (r) => r.status === 'succeeded', 'a run with Redis missing');
    expect(run.output).toBe('up\n');
  });
});
