// The launcher end to end (issue 11, items 2, 3 and 7): one dispatcher and one executor as real processes on SQLite,
// with rows written into the ledger directly as no API call would write them (a job that can not be turned into a
// request, a backlog for a group that has no executor, a failed run whose writer died before its retry).
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { Api, Dispatcher, Run, sqliteEnv, startDispatcher, startExecutor } from './support/gocron';
import { stopAllApps } from './support/processes';
import { freePort, tmpDir } from './support/services';
import { waitFor } from './support/wait';

const ONCE_A_YEAR = '0 0 1 1 *'; // jobs that only run when triggered

describe('the launcher on sqlite', () => {
  let env: Record<string, string>;
  let dispatcher: Dispatcher;
  let api: Api;
  let db: Database.Database;
  const scratch = tmpDir('launcher-e2e');

  beforeAll(async () => {
    env = await sqliteEnv('launcher');
    const executorPort = await freePort();
    dispatcher = await startDispatcher(
      { ...env, GOCRON_EXECUTOR_STATIC_TARGETS: `127.0.0.1:${executorPort}` },
      'launcher-dispatcher',
    );
    await startExecutor(env, 'launcher-executor', executorPort);
    api = new Api(dispatcher.base);
    await waitFor(async () => (await api.call<unknown[]>('GET', '/api/executors')).body.length === 1, {
      timeoutMs: 15_000,
      what: 'the executor is listed',
    });
    db = new Database(env.GOCRON_DATABASE_PATH);
    db.pragma('busy_timeout = 5000');
  });

  afterAll(async () => {
    db?.close();
    await stopAllApps();
  });

  /** Writes a run straight into the ledger. */
  function insertRuns(
    rows: { jobId: number; tickKey: string; status: string; started: boolean; at: number; trigger?: string }[],
  ): void {
    const insert = db.prepare(
      `INSERT INTO runs (job_id, tick_key, attempt, executor_key, scheduled_at, "trigger", status, not_before,
         deadline_at, started_at, finished_at, output_truncated, created_at, updated_at)
       VALUES (?, ?, 1, '', ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)`,
    );
    db.transaction(() => {
      for (const r of rows) {
        const final = r.status !== 'pending';
        insert.run(
          r.jobId,
          r.tickKey,
          r.at,
          r.trigger ?? 'manual',
          r.status,
          r.at,
          r.at + 3_600_000,
          r.started ? r.at : null,
          final ? r.at + 10 : null,
          r.at,
          final ? r.at + 10 : r.at,
        );
      }
    })();
  }

  /** A shell job whose first attempt fails and whose retry (a pending run, offered by the pending pass) succeeds. */
  async function failsOnce(name: string): Promise<{ id: number }> {
    const marker = join(scratch, `${name}.tried`);
    return api.createJob({
      name,
      cron: ONCE_A_YEAR,
      type: 'shell',
      command: `test -f ${marker} || { touch ${marker}; exit 1; }`,
      retries: 1,
      retryBackoffMs: 100,
    });
  }

  const succeededRetry = (jobId: number, timeoutMs: number): Promise<Run> =>
    api.waitForRun(jobId, (r) => r.trigger === 'retry' && r.status === 'succeeded', 'a succeeded retry', timeoutMs);

  it('fails a run whose job can not be turned into a request, naming why, and offers the other pending runs', async () => {
    const bad = await api.createJob({ name: 'no-request', cron: ONCE_A_YEAR, type: 'shell', command: 'true' });
    // Stored as no API call would store it: an http job without its request.
    db.prepare(`UPDATE jobs SET type = 'http', command = NULL, http = NULL WHERE id = ?`).run(bad.id);
    insertRuns([{ jobId: bad.id, tickKey: 'bad-1', status: 'pending', started: false, at: Date.now() - 1000 }]);
    const good = await failsOnce('good-after-bad');
    await api.trigger(good.id);

    const failed = await api.waitForRun(bad.id, (r) => r.status === 'failed', 'the bad run failed', 10_000);
    expect(failed.error).toMatch(/can not be offered: job \d+ is an http job without its http request/);
    expect(failed.startedAt).toBeNull();
    // The pass went on: the other job's retry waited pending and was offered.
    await succeededRetry(good.id, 10_000);
  });

  it('offers a retry of one group while 1,100 older runs wait for a group that has no executor', async () => {
    const ghost = await api.createJob({
      name: 'ghost-group',
      cron: ONCE_A_YEAR,
      type: 'shell',
      command: 'true',
      group: 'nobody-here',
    });
    const at = Date.now() - 1000;
    insertRuns(
      Array.from({ length: 1100 }, (_, i) => ({
        jobId: ghost.id,
        tickKey: `g${i}`,
        status: 'pending',
        started: false,
        at,
      })),
    );
    const live = await failsOnce('live-beside-ghost');
    await api.trigger(live.id);

    const retry = await succeededRetry(live.id, 10_000);
    expect(retry.attempt).toBe(2);
    // The backlog is still there, waiting for an executor of its group.
    expect((await api.runs(ghost.id, 'limit=5&status=pending')).length).toBe(5);
  });

  it('gives a run that failed without its next attempt (its writer died in between) its retry, which runs', async () => {
    const job = await api.createJob({
      name: 'crashed-writer',
      cron: ONCE_A_YEAR,
      type: 'shell',
      command: 'echo second-attempt',
      retries: 2,
      retryBackoffMs: 100,
    });
    // What a crash between the result and its retry leaves: attempt 1 failed after it started, no attempt 2.
    insertRuns([{ jobId: job.id, tickKey: 'crash-1', status: 'failed', started: true, at: Date.now() + 1 }]);

    // The repair reads runs 10 s behind the clock, every 2 s.
    const retry = await succeededRetry(job.id, 30_000);
    expect(retry).toMatchObject({ attempt: 2, output: 'second-attempt\n' });
    const attempts = (await api.runs(job.id)).map((r) => [r.attempt, r.status]).sort();
    expect(attempts).toEqual([
      [1, 'failed'],
      [2, 'succeeded'],
    ]);
  });
});
