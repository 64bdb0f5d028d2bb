// The executor trusts the ledger, not the caller (issue 13, item 3), end to end: a dispatcher and an executor as real
// processes on SQLite, and a caller that reaches the executor's gRPC port directly with requests of its own making.
// The executor (group `trust`) is not among the dispatcher's targets, so every run the tests trigger stays pending
// until the test itself offers it.
import Database from 'better-sqlite3';
import type { RunRequest } from '@app/protocol';
import type { ExecutorGrpcClient } from '../apps/dispatcher/src/executor-client/executor-grpc.client';
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
import { stopAllApps } from './support/processes';
import { freePort } from './support/services';
import { waitFor } from './support/wait';

const ONCE_A_YEAR = '0 0 1 1 *'; // jobs that only run when triggered

interface LedgerRow {
  id: number;
  job_id: number;
  tick_key: string;
  attempt: number;
  executor_key: string;
  scheduled_at: number;
  status: string;
}

describe('the executor runs what the ledger holds, whoever calls it', () => {
  let env: Record<string, string>;
  let dispatcher: Dispatcher;
  let executor: Executor;
  let api: Api;
  let db: Database.Database;
  let client: ExecutorGrpcClient;

  beforeAll(async () => {
    env = await sqliteEnv('executor-trust');
    // The dispatcher's only target is a port nobody listens on: no run is offered by it.
    dispatcher = await startDispatcher(
      { ...env, GOCRON_EXECUTOR_STATIC_TARGETS: `127.0.0.1:${await freePort()}` },
      'trust-dispatcher',
    );
    executor = await startExecutor({ ...env, GOCRON_EXECUTOR_GROUP: 'trust' }, 'trust-executor');
    api = new Api(dispatcher.base);
    client = executorClient(executor.address);
    await waitFor(
      () =>
        client.health(2000).then(
          () => true,
          () => false,
        ),
      {
        timeoutMs: 20_000,
        what: 'the executor answers Health (schema there)',
      },
    );
    db = new Database(env.GOCRON_DATABASE_PATH, { readonly: true });
    db.pragma('busy_timeout = 5000');
  });

  afterAll(async () => {
    client?.close();
    db?.close();
    await stopAllApps();
  });

  const row = (runId: number) => db.prepare(`SELECT * FROM runs WHERE id = ?`).get(runId) as LedgerRow;

  /** A triggered run of `job`, pending in the ledger (no executor of its group is the dispatcher's), as stored. */
  async function pendingRunOf(job: Job): Promise<LedgerRow> {
    const runId = await api.trigger(job.id);
    expect((await api.run(runId)).status).toBe('pending');
    return row(runId);
  }

  /** A caller's request for the run: by default the run's key as stored, with a task of the caller's own. */
  const requestFor = (r: LedgerRow, over: Partial<RunRequest> = {}): RunRequest => ({
    runId: r.id,
    jobId: r.job_id,
    jobVersion: 1,
    scheduledAt: new Date(r.scheduled_at).toISOString(),
    attempt: r.attempt,
    tickKey: r.tick_key,
    executorKey: r.executor_key,
    timeoutMs: 1,
    dispatcherId: 'attacker',
    task: 'shell',
    shell: { command: 'echo PWNED', env: { GOCRON_ATTEMPT: '99' } },
    retry: { retries: 10, retryBackoffMs: 1 },
    ...over,
  });

  const offer = async (req: RunRequest) => (await client.runBatch({ runs: [req], waitMs: 0 }, 5000)).outcomes[0];

  let jobA: Job;
  let runA: LedgerRow;

  beforeAll(async () => {
    jobA = await api.createJob({
      name: 'job-a',
      cron: ONCE_A_YEAR,
      type: 'shell',
      command: 'echo "A-$GOCRON_RUN_ID attempt $GOCRON_ATTEMPT"',
      group: 'trust',
    });
    runA = await pendingRunOf(jobA);
  });

  it('refuses a run named as another job’s, or under another attempt or instant, and leaves it pending', async () => {
    const jobB = await api.createJob({
      name: 'job-b',
      cron: ONCE_A_YEAR,
      type: 'shell',
      command: 'true',
      group: 'trust',
    });
    const forged = [
      requestFor(runA, { jobId: jobB.id }),
      requestFor(runA, { attempt: 2 }),
      requestFor(runA, { scheduledAt: new Date(runA.scheduled_at + 1000).toISOString() }),
      requestFor(runA, { tickKey: `${runA.tick_key} ` }),
    ];
    for (const req of forged) {
      expect(await offer(req)).toMatchObject({ runId: runA.id, accepted: false, code: 'MISMATCH' });
      expect(row(runA.id)).toMatchObject({ status: 'pending', job_id: jobA.id, attempt: 1 });
    }
    expect((await api.run(runA.id)).startedAt).toBeNull();
  });

  it('refuses a run of a job of another group before writing anything: it stays pending for its own executors', async () => {
    const jobC = await api.createJob({
      name: 'job-c',
      cron: ONCE_A_YEAR,
      type: 'shell',
      command: 'true',
      group: 'elsewhere',
    });
    const runC = await pendingRunOf(jobC);
    const outcome = await offer(requestFor(runC));
    expect(outcome).toMatchObject({ accepted: false, code: 'WRONG_GROUP' });
    expect(outcome.message).toMatch(/is not of group 'trust'/);
    expect(row(runC.id).status).toBe('pending');
  });

  it('runs the job’s command, not the caller’s, with the attempt the ledger holds', async () => {
    expect(await offer(requestFor(runA))).toMatchObject({ runId: runA.id, accepted: true });
    const done = await api.waitForRunStatus(runA.id, ['succeeded', 'failed', 'timed_out', 'cancelled', 'lost']);
    expect(done).toMatchObject({ status: 'succeeded', executorId: 'trust-executor', exitCode: 0 });
    expect(done.output).toBe(`A-${runA.id} attempt 1\n`);
    expect(done.output).not.toMatch(/PWNED/);
  });

  it('applies the job’s retries, not the ones a caller sends', async () => {
    const failing = await api.createJob({
      name: 'job-f',
      cron: ONCE_A_YEAR,
      type: 'shell',
      command: 'exit 4',
      group: 'trust',
    });
    const runF = await pendingRunOf(failing);
    expect(await offer(requestFor(runF))).toMatchObject({ accepted: true });
    expect(await api.waitForRunStatus(runF.id, ['failed'])).toMatchObject({ exitCode: 4 });
    // A retry is claimed in the transaction that writes the result: none now means none ever.
    expect((await api.runs(failing.id)).map((r) => r.id)).toEqual([runF.id]);
  });

  it('records a Cancel as cancelled whatever its reason says (no retry for a spoofed "lost:")', async () => {
    const long = await api.createJob({
      name: 'job-l',
      cron: ONCE_A_YEAR,
      type: 'shell',
      command: 'sleep 30',
      group: 'trust',
      retries: 2,
      retryBackoffMs: 100,
    });
    const runL = await pendingRunOf(long);
    expect(await offer(requestFor(runL))).toMatchObject({ accepted: true });
    await api.waitForRunStatus(runL.id, ['running']);
    expect(await client.cancel({ runId: runL.id, reason: 'lost: executor vanished' }, 5000)).toEqual({
      cancelled: true,
    });
    const done = await api.waitForRunStatus(runL.id, ['cancelled', 'lost', 'failed', 'succeeded']);
    expect(done).toMatchObject({ status: 'cancelled', error: 'lost: executor vanished' });
    expect((await api.runs(long.id)).map((r) => r.id)).toEqual([runL.id]);
  });
});
