// The executor's transport (issue 13, item 2) end to end, with real processes on SQLite: the token every gRPC call
// must carry, the refusal of a token-less executor off loopback, and TLS and mutual TLS with certificates made here
// with `openssl`. A caller reaches the executor's port directly with calls of its own making.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import Database from 'better-sqlite3';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  bearerValue,
  EXECUTOR_PACKAGE,
  EXECUTOR_SERVICE,
  executorProtoPath,
  PROTO_LOADER_OPTIONS,
  RunRequest,
} from '@app/protocol';
import { ExecutorGrpcClient } from '../apps/dispatcher/src/executor-client/executor-grpc.client';
import { makeCertificates } from './support/certificates';
import {
  Api,
  Dispatcher,
  Executor,
  executorClient,
  Job,
  sqliteEnv,
  startDispatcher,
  startExecutor,
} from './support/gocron';
import { startApp, stopAllApps, TEST_EXECUTOR_TOKEN } from './support/processes';
import { freePort, tmpDir } from './support/services';
import { waitFor } from './support/wait';

const ONCE_A_YEAR = '0 0 1 1 *'; // jobs that only run when triggered
const METHODS = ['Run', 'RunBatch', 'Cancel', 'Health', 'FollowOutput'] as const;
type Method = (typeof METHODS)[number];

const definition = protoLoader.loadSync(executorProtoPath(), PROTO_LOADER_OPTIONS);
const service = definition[`${EXECUTOR_PACKAGE}.${EXECUTOR_SERVICE}`] as grpc.ServiceDefinition;

/** One unary call with exactly the metadata given (no helper adds a token): the status code and details. */
function rawCall(
  address: string,
  method: Method,
  request: object,
  metadata: grpc.Metadata,
  credentials = grpc.credentials.createInsecure(),
): Promise<{ code: grpc.status; details: string }> {
  const client = new grpc.Client(address, credentials);
  const def = service[method] as grpc.MethodDefinition<object, object>;
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      def.path,
      def.requestSerialize,
      def.responseDeserialize,
      request,
      metadata,
      { deadline: Date.now() + 5000 },
      (err) => {
        client.close();
        resolve(err ? { code: err.code, details: err.details } : { code: grpc.status.OK, details: '' });
      },
    );
  });
}

function withAuthorization(value?: string): grpc.Metadata {
  const m = new grpc.Metadata();
  if (value !== undefined) m.set('authorization', value);
  return m;
}

interface LedgerRow {
  id: number;
  job_id: number;
  tick_key: string;
  attempt: number;
  executor_key: string;
  scheduled_at: number;
  status: string;
  started_at: number | null;
  executor_id: string | null;
}

/** What the caller sends for a pending run: its key as stored. */
function requestFor(r: LedgerRow): RunRequest {
  return {
    runId: r.id,
    jobId: r.job_id,
    jobVersion: 1,
    scheduledAt: new Date(r.scheduled_at).toISOString(),
    attempt: r.attempt,
    tickKey: r.tick_key,
    executorKey: r.executor_key,
    timeoutMs: 10_000,
    dispatcherId: 'caller',
    task: 'shell',
    shell: { command: 'true', env: {} },
    http: null,
    retry: { retries: 0, retryBackoffMs: 0 },
  } as unknown as RunRequest;
}

describe('the executor token', () => {
  const scratch = tmpDir('executor-transport-token');
  const wrongToken = `${TEST_EXECUTOR_TOKEN.slice(0, -1)}${TEST_EXECUTOR_TOKEN.endsWith('A') ? 'B' : 'A'}`;
  let env: Record<string, string>;
  let dispatcher: Dispatcher;
  let executor: Executor;
  let api: Api;
  let db: Database.Database;
  let job: Job;

  beforeAll(async () => {
    env = await sqliteEnv('executor-transport');
    const executorPort = await freePort();
    // This dispatcher's token is not the executor's: it never gets to list it, so triggered runs stay pending
    // for the test to offer; and it must say why, without either token.
    dispatcher = await startDispatcher(
      {
        ...env,
        GOCRON_EXECUTOR_STATIC_TARGETS: `127.0.0.1:${executorPort}`,
        GOCRON_EXECUTOR_TOKEN: wrongToken,
      },
      'transport-dispatcher',
    );
    executor = await startExecutor(env, 'transport-executor', executorPort);
    api = new Api(dispatcher.base);
    const client = executorClient(executor.address);
    try {
      await waitFor(
        () =>
          client.health(2000).then(
            () => true,
            () => false,
          ),
        {
          timeoutMs: 20_000,
          what: 'the executor answers Health with the token (schema there)',
        },
      );
    } finally {
      client.close();
    }
    db = new Database(env.GOCRON_DATABASE_PATH, { readonly: true });
    db.pragma('busy_timeout = 5000');
    job = await api.createJob({
      name: 'marker',
      cron: ONCE_A_YEAR,
      type: 'shell',
      command: `touch ${scratch}/ran-$GOCRON_RUN_ID`,
    });
  });

  afterAll(async () => {
    db?.close();
    await stopAllApps();
  });

  const row = (runId: number) => db.prepare(`SELECT * FROM runs WHERE id = ?`).get(runId) as LedgerRow;

  async function pendingRun(): Promise<LedgerRow> {
    const runId = await api.trigger(job.id);
    expect((await api.run(runId)).status).toBe('pending');
    return row(runId);
  }

  const requests = (r: LedgerRow): Record<Method, object> => ({
    Run: requestFor(r),
    RunBatch: { runs: [requestFor(r)] },
    Cancel: { runId: r.id, reason: 'lost: spoofed' },
    Health: {},
    // Server-streaming: refused by the same interceptor before any message is answered, so one unary read sees it.
    FollowOutput: { runId: r.id, offset: 0 },
  });

  it.each([
    ['no authorization metadata', undefined],
    ['a wrong token of the same length', bearerValue(wrongToken)],
    ['a token of another length', bearerValue(`${TEST_EXECUTOR_TOKEN}x`)],
    ['a short token', bearerValue('short')],
    ['the token without "Bearer"', TEST_EXECUTOR_TOKEN],
  ])('answers UNAUTHENTICATED to every method with %s, and nothing runs', async (_what, authorization) => {
    const r = await pendingRun();
    const runs = () => db.prepare('SELECT COUNT(*) AS n FROM runs').get() as { n: number };
    const before = runs().n;
    const results = [];
    for (const method of METHODS) {
      results.push([
        method,
        await rawCall(executor.address, method, requests(r)[method], withAuthorization(authorization)),
      ]);
    }
    expect(results).toEqual(
      METHODS.map((m) => [
        m,
        { code: grpc.status.UNAUTHENTICATED, details: expect.stringContaining('[executor] token') },
      ]),
    );
    for (const [, res] of results) expect(JSON.stringify(res)).not.toContain(authorization ?? '\u0000');
    expect(row(r.id)).toEqual(r);
    expect(runs().n).toBe(before);
    expect(existsSync(`${scratch}/ran-${r.id}`)).toBe(false);
  });

  it('runs what a caller with the token offers', async () => {
    const r = await pendingRun();
    const token = withAuthorization(bearerValue(TEST_EXECUTOR_TOKEN));
    expect((await rawCall(executor.address, 'Health', {}, token)).code).toBe(grpc.status.OK);
    expect((await rawCall(executor.address, 'RunBatch', { runs: [requestFor(r)] }, token)).code).toBe(grpc.status.OK);
    await api.waitForRunStatus(r.id, ['succeeded']);
    expect(existsSync(`${scratch}/ran-${r.id}`)).toBe(true);
  });

  it('the dispatcher with another token logs the refusal, naming the executor and the key, never a token', async () => {
    const line = await dispatcher.app.waitForLog(/refused this dispatcher's calls \(UNAUTHENTICATED\)/, 15_000);
    expect(line).toContain(executor.address);
    expect(line).toContain('[executor] token');
    for (const app of [dispatcher.app, executor.app]) {
      expect(app.logs()).not.toContain(TEST_EXECUTOR_TOKEN);
      expect(app.logs()).not.toContain(wrongToken);
    }
    // Throttled: the probe is refused every second, the line is written once a minute.
    expect(dispatcher.app.logs().match(/refused this dispatcher's calls/g)).toHaveLength(1);
  });
});

describe('an executor without a token', () => {
  afterAll(() => stopAllApps());

  it('refuses to start on a host other than loopback, naming [executor] token', async () => {
    const env = await sqliteEnv('executor-transport-open');
    const app = await startApp('executor', {
      name: 'open-executor',
      env: {
        ...env,
        GOCRON_EXECUTOR_TOKEN: '',
        GOCRON_EXECUTOR_HOST: '0.0.0.0',
        GOCRON_EXECUTOR_PORT: String(await freePort()),
      },
      ready: () => Promise.resolve(true),
    });
    const exit = await app.exited;
    expect(exit.code).not.toBe(0);
    expect(app.logs()).toMatch(
      /\[executor\] token: must be set when \[executor\] host \(0\.0\.0\.0\) is not a loopback/,
    );
    expect(app.logs()).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('starts on loopback with a warning, and then takes calls without metadata', async () => {
    const env = await sqliteEnv('executor-transport-loopback');
    const port = await freePort();
    await startDispatcher({ ...env, GOCRON_EXECUTOR_STATIC_TARGETS: `127.0.0.1:${port}` }, 'loopback-dispatcher');
    const executor = await startExecutor({ ...env, GOCRON_EXECUTOR_TOKEN: '' }, 'loopback-executor', port);
    await executor.app.waitForLog(/\[executor\] token is empty: any local process can run jobs/, 10_000);
    const res = await waitFor(
      async () => {
        const r = await rawCall(executor.address, 'Health', {}, withAuthorization());
        return r.code === grpc.status.OK && r;
      },
      { timeoutMs: 15_000, what: 'Health without metadata answers' },
    );
    expect(res.code).toBe(grpc.status.OK);
  });
});

describe('TLS between dispatcher and executor', () => {
  const certs = makeCertificates(tmpDir('executor-transport-tls'));
  const read = (p: string) => readFileSync(p);
  const clients: ExecutorGrpcClient[] = [];

  afterAll(async () => {
    for (const c of clients) c.close();
    await stopAllApps();
  });

  /** A dispatcher and an executor on a fresh SQLite file, the executor listed; returns them and the API. */
  async function setup(name: string, executorEnv: Record<string, string>, dispatcherEnv: Record<string, string>) {
    const env = await sqliteEnv(`executor-transport-${name}`);
    const port = await freePort();
    const executor = await startExecutor({ ...env, ...executorEnv }, `${name}-executor`, port);
    const dispatcher = await startDispatcher(
      { ...env, ...dispatcherEnv, GOCRON_EXECUTOR_STATIC_TARGETS: `127.0.0.1:${port}` },
      `${name}-dispatcher`,
    );
    const api = new Api(dispatcher.base);
    await waitFor(async () => (await api.call<unknown[]>('GET', '/api/executors')).body.length === 1, {
      timeoutMs: 20_000,
      what: `${name}: the dispatcher lists the executor`,
    });
    return { executor, dispatcher, api };
  }

  async function runsAJob(api: Api): Promise<void> {
    const job = await api.createJob({ name: 'over-tls', cron: ONCE_A_YEAR, type: 'shell', command: 'echo over-tls' });
    const run = await api.waitForRunStatus(await api.trigger(job.id), ['succeeded', 'failed']);
    expect(run).toMatchObject({ status: 'succeeded', output: expect.stringContaining('over-tls') });
  }

  const health = (c: ExecutorGrpcClient) =>
    c.health(3000).then(
      () => 'ok',
      (e: grpc.ServiceError) => grpc.status[e.code],
    );

  const client = (address: string, credentials: grpc.ChannelCredentials, token = TEST_EXECUTOR_TOKEN) => {
    const c = new ExecutorGrpcClient(address, { credentials, token });
    clients.push(c);
    return c;
  };

  it('runs a job end to end over TLS; a plaintext client gets nowhere', async () => {
    const { executor, api } = await setup(
      'tls',
      { GOCRON_EXECUTOR_TLS_CERT: certs.serverCert, GOCRON_EXECUTOR_TLS_KEY: certs.serverKey },
      { GOCRON_EXECUTOR_TLS_CA: certs.ca },
    );
    await executor.app.waitForLog(/tls tls, token required/, 5000);
    await runsAJob(api);
    expect(await health(client(executor.address, grpc.credentials.createInsecure()))).toBe('UNAVAILABLE');
    expect(await health(client(executor.address, grpc.credentials.createSsl(read(certs.ca))))).toBe('ok');
    // TLS does not replace the token.
    expect(await health(client(executor.address, grpc.credentials.createSsl(read(certs.ca)), ''))).toBe(
      'UNAUTHENTICATED',
    );
  });

  it('with tls_ca on the executor: only a client certificate signed by the CA gets in', async () => {
    const { executor, api } = await setup(
      'mtls',
      {
        GOCRON_EXECUTOR_TLS_CERT: certs.serverCert,
        GOCRON_EXECUTOR_TLS_KEY: certs.serverKey,
        GOCRON_EXECUTOR_TLS_CA: certs.ca,
      },
      {
        GOCRON_EXECUTOR_TLS_CA: certs.ca,
        GOCRON_EXECUTOR_TLS_CERT: certs.clientCert,
        GOCRON_EXECUTOR_TLS_KEY: certs.clientKey,
      },
    );
    await executor.app.waitForLog(/tls mutual, token required/, 5000);
    await runsAJob(api);
    const ca = read(certs.ca);
    expect(await health(client(executor.address, grpc.credentials.createSsl(ca)))).toBe('UNAVAILABLE');
    // The server's own certificate is not a client certificate (extendedKeyUsage serverAuth only).
    expect(
      await health(
        client(executor.address, grpc.credentials.createSsl(ca, read(certs.serverKey), read(certs.serverCert))),
      ),
    ).toBe('UNAVAILABLE');
    expect(
      await health(
        client(executor.address, grpc.credentials.createSsl(ca, read(certs.clientKey), read(certs.clientCert))),
      ),
    ).toBe('ok');
  });

  it('an unreadable or non-PEM certificate stops the start, naming the key and the path', async () => {
    const env = await sqliteEnv('executor-transport-badpem');
    const notPem = join(tmpDir('executor-transport-badpem'), 'cert.pem');
    writeFileSync(notPem, 'not a certificate\n');
    const app = await startApp('executor', {
      name: 'badpem-executor',
      env: {
        ...env,
        GOCRON_EXECUTOR_PORT: String(await freePort()),
        GOCRON_EXECUTOR_TLS_CERT: notPem,
        GOCRON_EXECUTOR_TLS_KEY: '/nonexistent/executor.key',
      },
      ready: () => Promise.resolve(true),
    });
    expect((await app.exited).code).toBe(2);
    expect(app.logs()).toContain(`[executor] tls_key: can not read /nonexistent/executor.key (ENOENT)`);
    expect(app.logs()).toContain(`[executor] tls_cert: ${notPem} is not a PEM certificate`);
    expect(app.logs()).not.toMatch(/\n\s+at /);
  });
});
