// Free start order: a dispatcher and an executor started before etcd (and with Redis not there at all) wait with
// back-off, say so, and come up by themselves once etcd starts; scheduling then runs with the lock degraded.
import type { ChildProcess } from 'node:child_process';
import { status } from '@grpc/grpc-js';
import { Etcd3 } from 'etcd3';
import type { RunRequest } from '@app/protocol';
import type { ExecutorGrpcClient } from '../apps/dispatcher/src/executor-client/executor-grpc.client';
import {
  Api,
  executorClient,
  startDispatcher,
  startExecutor,
  TEST_ADMIN_TOKEN,
  TEST_SECRET_KEY,
} from './support/gocron';
import { httpJson, startApp, stopAllApps } from './support/processes';
import { createMysqlDatabase, etcdEnv, freePort, spawnEtcd, TestDatabase, testServices } from './support/services';
import { startTcpProxy, TcpProxy } from './support/tcp-proxy';
import { waitFor } from './support/wait';

type HealthBody = { status: string; checks: Record<string, { status: string; detail: string }> };

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
      // The apps this suite starts with startApp share the key startDispatcher/startExecutor give theirs.
      GOCRON_AUTH_SECRET_KEY: TEST_SECRET_KEY,
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
      env: { ...env, GOCRON_DISPATCHER_PORT: String(await freePort()), GOCRON_AUTH_ADMIN_TOKEN: TEST_ADMIN_TOKEN },
      ready: () => Promise.resolve(true),
    });
    await early.waitForLog(/etcd not reachable .* retrying/, 30_000);

    etcd = spawnEtcd(etcdPort, peerPort, 'etcd');
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

// A dispatcher (re)started while its etcd endpoint is down: it must serve its API at once (health `degraded`,
// naming etcd), take jobs, keep their runs pending, and fill its executor list and register once etcd answers.
// etcd is "down" for this dispatcher alone: it reaches the test etcd through a loopback proxy that starts cut.
describe('free start order: a dispatcher started while etcd is down', () => {
  let db: TestDatabase;
  let proxy: TcpProxy | null = null;

  afterAll(async () => {
    await stopAllApps();
    await proxy?.close();
    await db?.drop();
  });

  it('serves health degraded, accepts a job, and runs it once etcd answers', async () => {
    db = await createMysqlDatabase('start_order_etcd');
    const etcdUrl = new URL(testServices().etcdHosts.split(',')[0]);
    proxy = await startTcpProxy({ host: etcdUrl.hostname, port: Number(etcdUrl.port || 2379) });
    proxy.cut();
    const shared = {
      ...db.env,
      ...etcdEnv('start-order-etcd'),
      GOCRON_ETCD_LEASE_TTL: '2',
      GOCRON_AUTH_SECRET_KEY: TEST_SECRET_KEY,
    };
    const port = await freePort();
    const api = new Api(`http://127.0.0.1:${port}`);
    const started = Date.now();
    // Bounded: before the fix the dispatcher never listened while etcd was down.
    await startApp('dispatcher', {
      name: 'd-etcd-down',
      env: {
        ...shared,
        GOCRON_ETCD_HOSTS: `http://${proxy.address}`,
        GOCRON_DISPATCHER_ID: 'd-etcd-down',
        GOCRON_DISPATCHER_PORT: String(port),
        GOCRON_AUTH_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      },
      ready: async () => (await httpJson('GET', `${api.base}/api/health`)).status === 200,
      readyTimeoutMs: 20_000,
    });
    expect(Date.now() - started).toBeLessThan(20_000);
    const health = await api.call<HealthBody>('GET', '/api/health', undefined, 200);
    expect(health.body.status).toBe('degraded');
    expect(health.body.checks.discovery).toMatchObject({ status: 'degraded', detail: expect.stringMatching(/etcd/) });

    const job = await api.createJob({ name: 'etcd-late', cron: '* * * * * *', type: 'shell', command: 'echo up' });
    // An executor that etcd lists: this dispatcher can not see it while its link is cut.
    await startExecutor(shared, 'e-etcd-late');
    await waitFor(async () => (await api.runs(job.id)).length > 0, { timeoutMs: 10_000, what: 'a run of the job' });
    expect((await api.call<unknown[]>('GET', '/api/executors', undefined, 200)).body).toEqual([]);
    expect((await api.runs(job.id)).filter((r) => r.executorId !== null)).toEqual([]);

    proxy.restore();
    const run = await api.waitForRun(job.id, (r) => r.status === 'succeeded', 'a run on the executor', 40_000);
    expect(run).toMatchObject({ executorId: 'e-etcd-late', output: 'up\n' });
    await waitFor(
      async () =>
        (await api.call<{ id: string }[]>('GET', '/api/dispatchers')).body.some((d) => d.id === 'd-etcd-down'),
      { timeoutMs: 20_000, what: 'the dispatcher registers in etcd' },
    );
    await waitFor(
      async () => (await api.call<HealthBody>('GET', '/api/health')).body.checks.discovery.status === 'ok',
      {
        timeoutMs: 20_000,
        what: 'discovery ok once etcd answers',
      },
    );
  }, 110_000);
});

// An executor started before any dispatcher migrated its database: it waits for the schema without giving up, says
// so once in its log, answers Health and RunBatch with the reason (it takes no run and is not in etcd meanwhile),
// and works normally once a dispatcher has migrated.
describe('free start order: an executor started before the schema exists', () => {
  let db: TestDatabase;
  let etcd: Etcd3 | null = null;
  let client: ExecutorGrpcClient | null = null;

  afterAll(async () => {
    client?.close();
    await stopAllApps();
    etcd?.close();
    await db?.drop();
  });

  it('stays up, refuses runs naming the schema, and runs jobs once a dispatcher migrates', async () => {
    db = await createMysqlDatabase('start_order_schema');
    const env: Record<string, string> = {
      ...db.env,
      ...etcdEnv('start-order-schema'),
      GOCRON_ETCD_LEASE_TTL: '2',
      GOCRON_AUTH_SECRET_KEY: TEST_SECRET_KEY,
    };
    etcd = new Etcd3({ hosts: testServices().etcdHosts, dialTimeout: 3000 });
    const executorPort = await freePort();
    const executor = await startApp('executor', {
      name: 'e-no-schema',
      env: { ...env, GOCRON_EXECUTOR_ID: 'e-no-schema', GOCRON_EXECUTOR_PORT: String(executorPort) },
      ready: () => Promise.resolve(true),
    });
    await executor.waitForLog(/waiting for a dispatcher to migrate the database schema/, 15_000);

    client = executorClient(`127.0.0.1:${executorPort}`);
    const failureOf = (p: Promise<unknown>) =>
      p.then(
        () => 'answered',
        (e: { code: number; details: string }) => `${e.code} ${e.details}`,
      );
    // Bounded: before the fix the gRPC server listened only once the schema was there.
    const refusal = await waitFor(
      async () => {
        const f = await failureOf(client!.health(2000));
        return /schema/.test(f) && f;
      },
      { timeoutMs: 10_000, what: 'Health answers while the schema is missing' },
    );
    expect(refusal).toMatch(new RegExp(`^${status.UNAVAILABLE} executor e-no-schema .*schema`));
    const request: RunRequest = {
      runId: 1,
      jobId: 1,
      jobVersion: 1,
      scheduledAt: new Date().toISOString(),
      attempt: 1,
      timeoutMs: 10_000,
      dispatcherId: 'test',
      retry: null,
      tickKey: 't',
      executorKey: '',
      task: 'shell',
      shell: { command: 'true', env: {} },
    };
    expect((await client.runBatch({ runs: [request], waitMs: 0 }, 3000)).outcomes).toEqual([
      { runId: 1, accepted: false, code: 'LEDGER_DOWN', message: expect.stringMatching(/schema/) as unknown },
    ]);
    const registered = async () => (await etcd!.getAll().prefix(`${env.GOCRON_ETCD_PREFIX}/executors/`).keys()).length;
    expect(await registered()).toBe(0);
    // Still waiting a while later: the wait has no budget to run out of.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(executor.logs()).not.toMatch(/schema not found|exited/i);
    expect(await failureOf(client.health(2000))).toMatch(/schema/);

    const dispatcher = await startDispatcher(env, 'd-migrates');
    const api = new Api(dispatcher.base);
    await waitFor(async () => (await api.call<{ id: string }[]>('GET', '/api/executors')).body.length === 1, {
      timeoutMs: 20_000,
      what: 'the executor registers once the schema is there',
    });
    expect((await client.health(2000)).executorId).toBe('e-no-schema');
    const job = await api.createJob({ name: 'after-schema', cron: '* * * * * *', type: 'shell', command: 'echo ok' });
    const run = await api.waitForRun(job.id, (r) => r.status === 'succeeded', 'a run once migrated', 20_000);
    expect(run).toMatchObject({ executorId: 'e-no-schema', output: 'ok\n' });
  }, 110_000);
});
