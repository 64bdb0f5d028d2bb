// The foundation end to end: one dispatcher and one executor as real processes, on SQLite (the embedded default)
// and on MariaDB, doing what a user does through the REST API.
import { readFileSync } from 'node:fs';
import type { RunRequest } from '@app/protocol';
import {
  Api,
  bearer,
  Dispatcher,
  Executor,
  executorClient,
  Run,
  sqliteEnv,
  startDispatcher,
  startExecutor,
} from './support/gocron';
import { HttpStub, markedSleep, pidsWithArg, startHttpStub, stopAllApps } from './support/processes';
import { createMysqlDatabase, freePort, TestDatabase } from './support/services';
import { waitFor } from './support/wait';

/** Alive means present and not a zombie (this container's PID 1 does not reap orphans). */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

const ONCE_A_YEAR = '0 0 1 1 *'; // jobs that only run when triggered

/**
 * The executor's spawn helper: the highest ancestor of a task that runs the helper's perl script (a PID namespace's
 * PID 1 is a clone of the helper, with the same command line, between the two).
 */
function helperOf(taskPid: number): number | undefined {
  let pid = taskPid;
  let found: number | undefined;
  for (let i = 0; i < 8 && pid > 1; i++) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (argv[1] === '-e' && argv[2]?.includes('sub finish_all')) found = pid;
      else if (found !== undefined) return found;
    } catch {
      return found;
    }
  }
  return found;
}

/** The pid of the task's `sleep <marker>` once it has started. */
function waitForPid(marker: string): Promise<number> {
  return waitFor(() => pidsWithArg(marker)[0], { timeoutMs: 5000, what: `a process sleeping ${marker}` });
}

describe.each(['sqlite', 'mysql'] as const)('gocron on %s', (dialect) => {
  let db: TestDatabase | null = null;
  let env: Record<string, string>;
  let executor: Executor;
  let dispatcher: Dispatcher;
  let api: Api;
  let stub: HttpStub;

  beforeAll(async () => {
    if (dialect === 'mysql') {
      db = await createMysqlDatabase('embedded');
      env = db.env;
    } else {
      env = await sqliteEnv('embedded');
    }
    stub = await startHttpStub();
    const executorPort = await freePort();
    // lease_ttl 1 s: a vanished executor's runs are lost within 2 s (the SIGKILL test).
    dispatcher = await startDispatcher(
      { ...env, GOCRON_EXECUTOR_STATIC_TARGETS: `127.0.0.1:${executorPort}`, GOCRON_ETCD_LEASE_TTL: '1' },
      `dispatcher-${dialect}`,
    );
    // A variable of the executor's own: tasks must never see it.
    executor = await startExecutor(
      { ...env, GOCRON_SECRET_PROBE: 'x', GOCRON_EXECUTOR_CAPACITY: '3' },
      `executor-${dialect}`,
      executorPort,
    );
    api = new Api(dispatcher.base);
    await waitFor(async () => (await api.call<unknown[]>('GET', '/api/executors')).body.length === 1, {
      timeoutMs: 15_000,
      what: 'the executor is listed',
    });
  });

  afterAll(async () => {
    await stopAllApps();
    await stub?.close();
    await db?.drop();
  });

  it('runs a job every second, recording output and the computed tick', async () => {
    const job = await api.createJob({
      name: 'every-second',
      cron: '* * * * * *',
      type: 'shell',
      command: 'echo tick-$GOCRON_RUN_ID',
    });
    const runs = await waitFor(
      async () => {
        const done = (await api.runs(job.id)).filter((r) => r.status === 'succeeded');
        return done.length >= 2 ? done : undefined;
      },
      { timeoutMs: 15_000, what: 'two succeeded runs' },
    );
    for (const r of runs) {
      expect(r.output).toBe(`tick-${r.id}\n`);
      expect(r.trigger).toBe('schedule');
      expect(Date.parse(r.scheduledAt) % 1000).toBe(0);
      expect(r.executorId).toBe(`executor-${dialect}`);
    }
    const ticks = runs.map((r) => Date.parse(r.scheduledAt)).sort();
    expect(new Set(ticks).size).toBe(ticks.length);
    await api.call('DELETE', `/api/jobs/${job.id}`, undefined, 204);
    // History stays readable after the job is gone.
    expect(
      (await api.call<{ total: number }>('GET', `/api/runs?jobId=${job.id}`, undefined, 200)).body.total,
    ).toBeGreaterThanOrEqual(2);
    await api.call('GET', `/api/jobs/${job.id}`, undefined, 404);
  });

  it('gives a task its run identity and a safe environment, never the executor config', async () => {
    const job = await api.createJob({
      name: 'env',
      cron: ONCE_A_YEAR,
      type: 'shell',
      command: 'env | sort',
      env: { FOO: 'bar' },
    });
    const runId = await api.trigger(job.id);
    const run = await api.waitForRunStatus(runId, ['succeeded', 'failed']);
    expect(run.status).toBe('succeeded');
    expect(run.trigger).toBe('manual');
    expect(run.output).toContain(`GOCRON_RUN_ID=${runId}\n`);
    expect(run.output).toContain(`GOCRON_JOB_ID=${job.id}\n`);
    expect(run.output).toContain('GOCRON_ATTEMPT=1\n');
    expect(run.output).toContain(`GOCRON_SCHEDULED_AT=${run.scheduledAt}\n`);
    expect(run.output).toContain('FOO=bar\n');
    expect(run.output).not.toMatch(/GOCRON_(DATABASE|SECRET|EXECUTOR)/);
  });

  it('kills a task at its timeout and records timed_out', async () => {
    const marker = markedSleep();
    const job = await api.createJob({
      name: 'timeout',
      cron: ONCE_A_YEAR,
      type: 'shell',
      command: `sleep ${marker}`,
      timeoutMs: 1000,
    });
    const runId = await api.trigger(job.id);
    const pid = await waitForPid(marker);
    const run = await api.waitForRunStatus(runId, ['timed_out', 'failed', 'succeeded']);
    expect(run.status).toBe('timed_out');
    expect(run.error).toMatch(/timed out after 1000 ms/);
    await waitFor(() => !isAlive(pid), { timeoutMs: 5000, what: `task pid ${pid} is gone` });
  });

  it('cancels a running run and stops its process', async () => {
    const marker = markedSleep();
    const job = await api.createJob({
      name: 'cancel',
      cron: ONCE_A_YEAR,
      type: 'shell',
      command: `sleep ${marker}`,
    });
    const runId = await api.trigger(job.id);
    await api.waitForRunStatus(runId, ['running']);
    const pid = await waitForPid(marker);
    expect(isAlive(pid)).toBe(true);
    await api.call('POST', `/api/runs/${runId}/cancel`, undefined, 202);
    const run = await api.waitForRunStatus(runId, ['cancelled', 'failed', 'succeeded']);
    expect(run.status).toBe('cancelled');
    await waitFor(() => !isAlive(pid), { timeoutMs: 5000, what: `task pid ${pid} is gone` });
    // A run that has ended can not be cancelled again.
    await api.call('POST', `/api/runs/${runId}/cancel`, undefined, 409);
    await api.call('POST', `/api/runs/999999/cancel`, undefined, 404);
  });

  it('runs HTTP tasks: an expected status succeeds, another fails', async () => {
    const ok = await api.createJob({
      name: 'http-ok',
      cron: ONCE_A_YEAR,
      type: 'http',
      http: { method: 'POST', url: `${stub.url}/hook`, headers: { 'X-Test': 'yes' }, body: '{"a":1}' },
    });
    const runId = await api.trigger(ok.id);
    const run = await api.waitForRunStatus(runId, ['succeeded', 'failed']);
    expect(run).toMatchObject({ status: 'succeeded', httpStatus: 200 });
    expect(run.output).toContain('"ok":true');
    const req = stub.requests.find((r) => r.url === '/hook');
    expect(req).toMatchObject({ method: 'POST', body: '{"a":1}' });
    expect(req!.headers['x-gocron-run-id']).toBe(String(runId));
    expect(req!.headers['x-gocron-job-id']).toBe(String(ok.id));
    expect(req!.headers['x-test']).toBe('yes');

    const bad = await api.createJob({
      name: 'http-bad',
      cron: ONCE_A_YEAR,
      type: 'http',
      http: { method: 'GET', url: `${stub.url}/status/500` },
    });
    const second = await api.trigger(bad.id);
    const failed = await api.waitForRunStatus(second, ['succeeded', 'failed']);
    expect(failed).toMatchObject({ status: 'failed', httpStatus: 500 });
    expect(failed.error).toMatch(/unexpected HTTP status 500/);
  });

  it("records 'forbid' ticks as skipped while a slow run goes on", async () => {
    const job = await api.createJob({
      name: 'forbid',
      cron: '* * * * * *',
      type: 'shell',
      command: 'sleep 4',
      concurrency: 'forbid',
    });
    // The ticks skipped behind the one run fold into one record that counts them.
    const skipped = await api.waitForRun(
      job.id,
      (r) => r.status === 'skipped' && r.skippedCount >= 2,
      'a record of two skipped ticks',
    );
    expect(skipped.error).toMatch(/^run \d+ of this job had not finished \(concurrency: forbid\)$/);
    expect(Date.parse(skipped.skippedUntil!) - Date.parse(skipped.scheduledAt)).toBe((skipped.skippedCount - 1) * 1000);
    await api.call('POST', `/api/jobs/${job.id}/pause`, undefined, 200);
    const runs = await api.runs(job.id);
    // One run per tick, never two for the same tick, never two running at once.
    const ticks = runs.map((r) => r.scheduledAt);
    expect(new Set(ticks).size).toBe(ticks.length);
    expect(runs.filter((r) => r.status === 'running' || r.status === 'pending').length).toBeLessThanOrEqual(1);
    await api.call('DELETE', `/api/jobs/${job.id}`, undefined, 204);
  });

  it("'replace' cancels the previous run when the next tick comes", async () => {
    const job = await api.createJob({
      name: 'replace',
      cron: '* * * * * *',
      type: 'shell',
      command: 'sleep 100',
      concurrency: 'replace',
    });
    const replaced = await api.waitForRun(job.id, (r) => r.status === 'cancelled', 'a replaced run');
    expect(replaced.error).toMatch(/replaced by the tick of/);
    await api.call('DELETE', `/api/jobs/${job.id}`, undefined, 204);
    const runs = await waitFor(
      async () => {
        const all = await api.runs(job.id);
        return all.every((r) => r.status !== 'running' && r.status !== 'pending') ? all : undefined;
      },
      { timeoutMs: 10_000, what: 'every run of the deleted job has ended' },
    );
    // One run per tick; each replaced run ended before or as its successor was claimed.
    expect(new Set(runs.map((r) => r.scheduledAt)).size).toBe(runs.length);
    expect(runs.every((r) => r.status === 'cancelled')).toBe(true);
  });

  it('retries a failed run with back-off, each attempt its own run', async () => {
    const job = await api.createJob({
      name: 'retry',
      cron: ONCE_A_YEAR,
      type: 'shell',
      command: 'exit 3',
      retries: 2,
      retryBackoffMs: 200,
    });
    await api.call('POST', `/api/jobs/${job.id}/trigger`, undefined, 202);
    const third = await api.waitForRun(job.id, (r) => r.attempt === 3 && r.status === 'failed', 'attempt 3 failed');
    expect(third.trigger).toBe('retry');
    const runs = await api.runs(job.id);
    expect(runs.map((r) => [r.attempt, r.status, r.exitCode]).sort()).toEqual([
      [1, 'failed', 3],
      [2, 'failed', 3],
      [3, 'failed', 3],
    ]);
  });

  it('pauses and resumes without firing the ticks that fell while paused', async () => {
    const job = await api.createJob({
      name: 'pause',
      cron: '* * * * * *',
      type: 'shell',
      command: 'true',
      concurrency: 'allow',
    });
    await api.waitForRun(job.id, (r) => r.status === 'succeeded', 'a first run');
    const paused = (
      await api.call<{ enabled: boolean; nextRunAt: string | null }>(
        'POST',
        `/api/jobs/${job.id}/pause`,
        undefined,
        200,
      )
    ).body;
    expect(paused).toMatchObject({ enabled: false, nextRunAt: null });
    const pausedAt = Date.now();
    // Let at least two ticks fall while paused, measured by another job's runs rather than a sleep.
    const clock = await api.createJob({
      name: 'clock',
      cron: '* * * * * *',
      type: 'shell',
      command: 'true',
      concurrency: 'allow',
    });
    await waitFor(
      async () => (await api.runs(clock.id)).filter((r) => Date.parse(r.scheduledAt) > pausedAt + 1000).length >= 2,
      {
        timeoutMs: 15_000,
        what: 'two ticks pass while paused',
      },
    );
    const resumedAt = Date.now();
    await api.call('POST', `/api/jobs/${job.id}/resume`, undefined, 200);
    await api.waitForRun(job.id, (r) => Date.parse(r.scheduledAt) > resumedAt, 'a run after resume');
    const during = (await api.runs(job.id)).filter((r) => {
      const t = Date.parse(r.scheduledAt);
      return t > pausedAt + 1000 && t <= resumedAt;
    });
    expect(during).toEqual([]);
    await api.call('DELETE', `/api/jobs/${job.id}`, undefined, 204);
    await api.call('DELETE', `/api/jobs/${clock.id}`, undefined, 204);
  });

  it('applies a PATCH of the schedule at once', async () => {
    const job = await api.createJob({ name: 'patch', cron: ONCE_A_YEAR, type: 'shell', command: 'true' });
    const patched = (
      await api.call<{ cron: string; nextRunAt: string }>(
        'PATCH',
        `/api/jobs/${job.id}`,
        { cron: '*/2 * * * * *' },
        200,
      )
    ).body;
    expect(patched.cron).toBe('*/2 * * * * *');
    expect(Date.parse(patched.nextRunAt) - Date.now()).toBeLessThanOrEqual(2000);
    const run = await api.waitForRun(job.id, (r) => r.status === 'succeeded', 'a run on the new schedule');
    expect(new Date(run.scheduledAt).getUTCSeconds() % 2).toBe(0);
    await api.call('DELETE', `/api/jobs/${job.id}`, undefined, 204);
  });

  it('a run waits pending while the executor is full, and starts when a slot frees', async () => {
    // Capacity 3: the fourth run is refused with RESOURCE_EXHAUSTED and offered again.
    const job = await api.createJob({ name: 'capacity', cron: ONCE_A_YEAR, type: 'shell', command: 'sleep 1' });
    const ids: number[] = [];
    for (let i = 0; i < 4; i++) ids.push(await api.trigger(job.id));
    const runs = await Promise.all(ids.map((id) => api.waitForRunStatus(id, ['succeeded', 'failed'])));
    expect(runs.map((r) => r.status)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
    const firstFinish = Math.min(...runs.slice(0, 3).map((r) => Date.parse(r.finishedAt!)));
    expect(Date.parse(runs[3].startedAt!)).toBeGreaterThanOrEqual(firstFinish - 50);
  });

  it('a run no executor can take fails once its timeout has passed, saying why', async () => {
    const job = await api.createJob({
      name: 'no-executor',
      cron: ONCE_A_YEAR,
      type: 'shell',
      command: 'true',
      group: 'nowhere',
      timeoutMs: 1500,
    });
    const runId = await api.trigger(job.id);
    expect((await api.run(runId)).status).toBe('pending');
    const run = await api.waitForRunStatus(runId, ['failed', 'succeeded']);
    expect(run.status).toBe('failed');
    expect(run.error).toMatch(/no executor of group 'nowhere' took the run/);
    // An enabled job of a group nobody serves turns /api/health degraded (the Swagger test below wants it ok).
    await api.call('POST', `/api/jobs/${job.id}/pause`, undefined, 200);
  });

  it('deleting a job cancels its running run', async () => {
    const job = await api.createJob({ name: 'delete-running', cron: ONCE_A_YEAR, type: 'shell', command: 'sleep 100' });
    const runId = await api.trigger(job.id);
    await api.waitForRunStatus(runId, ['running']);
    await api.call('DELETE', `/api/jobs/${job.id}`, undefined, 204);
    expect((await api.waitForRunStatus(runId, ['cancelled', 'failed', 'succeeded'])).status).toBe('cancelled');
  });

  it('answers bad input with a 400 naming what is wrong, never a 5xx', async () => {
    const bad = async (method: string, path: string, body: unknown, pattern: RegExp, status = 400) => {
      const res = await api.call<{ statusCode: number; message: string | string[] }>(method, path, body);
      expect({ path, status: res.status }).toEqual({ path, status });
      expect(JSON.stringify(res.body.message)).toMatch(pattern);
    };
    const valid = { name: 'valid', cron: '* * * * *', type: 'shell', command: 'true' };
    await bad('POST', '/api/jobs', { ...valid, name: '' }, /name should not be empty/);
    await bad('POST', '/api/jobs', { ...valid, cron: '0 0 30 2 *' }, /cron: never fires/);
    await bad('POST', '/api/jobs', { ...valid, cron: '0 0 L * *' }, /cron: L is not supported/);
    await bad('POST', '/api/jobs', { ...valid, cron: '61 * * * *' }, /cron: .*minute/);
    await bad('POST', '/api/jobs', { ...valid, timezone: 'Mars/Base' }, /timezone/);
    await bad('POST', '/api/jobs', { ...valid, timeoutMs: 0 }, /timeoutMs/);
    await bad('POST', '/api/jobs', { ...valid, retries: 11 }, /retries/);
    await bad('POST', '/api/jobs', { ...valid, concurrency: 'sometimes' }, /concurrency/);
    await bad('POST', '/api/jobs', { ...valid, env: { A: 1 } }, /env/);
    await bad('POST', '/api/jobs', { ...valid, unknown: 1 }, /property unknown should not exist/);
    await bad('POST', '/api/jobs', { ...valid, command: undefined }, /command/);
    await bad(
      'POST',
      '/api/jobs',
      { ...valid, type: 'http', command: undefined, http: { method: 'GET', url: 'nope' } },
      /http.url/,
    );
    await bad('POST', '/api/jobs', [valid], /body: must be a JSON object/);
    await bad('POST', '/api/jobs', 'not json', /body/);
    await bad('GET', '/api/jobs?limit=0', undefined, /limit/);
    await bad('GET', '/api/jobs?limit=501', undefined, /limit/);
    await bad('GET', '/api/jobs?enabled=yes', undefined, /enabled must be true or false/);
    await bad('GET', '/api/runs?status=bogus', undefined, /status/);
    await bad('GET', '/api/runs?offset=-1', undefined, /offset/);
    await bad('GET', '/api/jobs/abc', undefined, /id must be a positive integer/);
    await bad('GET', '/api/cron/next?expr=*%20*%20*', undefined, /expr: .*5 or 6 fields/);
    await bad('GET', '/api/cron/next?expr=*%20*%20*%20*%20*&count=101', undefined, /count/);
    await bad('GET', '/api/cron/next?expr=*%20*%20*%20*%20*&tz=Nowhere', undefined, /time zone/);
    await bad('GET', '/api/jobs/424242', undefined, /not found/, 404);
    await bad('PATCH', '/api/jobs/424242', { cron: '* * * * *' }, /not found/, 404);
    const created = await api.createJob({ ...valid, name: 'taken' });
    await bad('POST', '/api/jobs', { ...valid, name: 'taken' }, /already exists/, 409);
    await bad('PATCH', `/api/jobs/${created.id}`, { cron: '0 0 31 4 *' }, /cron: never fires/);
    await bad('PATCH', `/api/jobs/${created.id}`, { type: 'http' }, /http is required/);
  });

  it('the executor answers bad gRPC messages with an outcome naming the problem, and keeps serving', async () => {
    const client = executorClient(executor.address);
    try {
      const job = await api.createJob({ name: 'grpc-bad', cron: ONCE_A_YEAR, type: 'shell', command: 'true' });
      const base: RunRequest = {
        runId: 0,
        jobId: job.id,
        jobVersion: 0,
        scheduledAt: 'nope',
        attempt: 1,
        timeoutMs: 1000,
        dispatcherId: 'test',
        retry: null,
        tickKey: '',
        executorKey: '',
      };
      const outcomeOf = async (req: RunRequest) => (await client.runBatch({ runs: [req], waitMs: 0 }, 3000)).outcomes[0];
      const codeOf = (p: Promise<unknown>) =>
        p.then(
          () => 'OK',
          (e: { code: number; details: string }) => `${e.code} ${e.details}`,
        );
      expect(await outcomeOf(base)).toMatchObject({
        accepted: false,
        code: 'INVALID',
        message: expect.stringMatching(
          /^run_id: must be a positive integer; scheduled_at: must be an ISO 8601 instant; tick_key: must not be empty$/,
        ) as unknown,
      });
      const unknownRun = {
        ...base,
        runId: 987654,
        scheduledAt: new Date().toISOString(),
        tickKey: 't',
        shell: { command: 'true', env: {} },
      };
      expect(await outcomeOf(unknownRun)).toMatchObject({
        accepted: false,
        code: 'NOT_PENDING',
        message: expect.stringMatching(/^run 987654 is not pending/) as unknown,
      });
      expect(await codeOf(client.cancel({ runId: 987654, reason: 'x' }, 3000))).toMatch(/^5 run 987654 is not running/);
      expect((await client.health(3000)).executorId).toBe(`executor-${dialect}`);
    } finally {
      client.close();
    }
  });

  it('streams job and run changes as server-sent events', async () => {
    const controller = new AbortController();
    const res = await fetch(`${api.base}/api/events`, { signal: controller.signal, headers: api.authHeaders() });
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    const job = await api.createJob({ name: 'sse', cron: ONCE_A_YEAR, type: 'shell', command: 'true' });
    const runId = await api.trigger(job.id);
    try {
      await waitFor(
        async () => {
          const { value } = await reader.read();
          text += Buffer.from(value ?? new Uint8Array()).toString('utf8');
          return text.includes(`"jobId":${job.id}`) && text.includes(`"runId":${runId}`);
        },
        { timeoutMs: 10_000, what: 'job and run events', intervalMs: 10 },
      );
    } finally {
      controller.abort();
    }
    expect(text).toMatch(
      new RegExp(`event: job\\nid: \\d+\\ndata: \\{"type":"job","action":"created","jobId":${job.id}\\}`),
    );
    expect(text).toContain('event: run');
  });

  it('computes next fire times, DST included, and serves Swagger', async () => {
    const res = await api.call<{ next: string[] }>(
      'GET',
      '/api/cron/next?expr=30%202%20*%20*%20*&tz=America/New_York&from=2026-03-07T12:00:00Z&count=2',
      undefined,
      200,
    );
    // 02:30 does not exist in New York on 2026-03-08: skipped.
    expect(res.body.next).toEqual(['2026-03-09T06:30:00.000Z', '2026-03-10T06:30:00.000Z']);
    const doc = await api.call<{ paths: Record<string, unknown> }>('GET', '/api/docs-json', undefined, 200);
    for (const p of [
      '/api/jobs',
      '/api/jobs/{id}',
      '/api/jobs/{id}/trigger',
      '/api/runs/{id}/cancel',
      '/api/cron/next',
      '/api/health',
    ]) {
      expect(Object.keys(doc.body.paths)).toContain(p);
    }
    const health = await api.call<{ status: string }>('GET', '/api/health', undefined, 200);
    expect(health.body.status).toBe('ok');
    const metrics = await fetch(`${api.base}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/gocron_jobs_scheduled \d+/);
  });

  /** A triggered run of a job sleeping `marker` with one retry, once its task is running. */
  async function sleepingRun(
    name: string,
    marker: string,
  ): Promise<{ job: { id: number }; runId: number; pid: number }> {
    const job = await api.createJob({
      name,
      cron: ONCE_A_YEAR,
      type: 'shell',
      command: `sleep ${marker}`,
      retries: 1,
      retryBackoffMs: 100,
      timeoutMs: 120_000,
    });
    const runId = await api.trigger(job.id);
    await api.waitForRunStatus(runId, ['running']);
    return { job, runId, pid: await waitForPid(marker) };
  }

  /** The retry (attempt 2) of a job's run, once it runs. */
  const retryOf = (jobId: number): Promise<Run> =>
    api.waitForRun(jobId, (r: Run) => r.attempt === 2 && r.status === 'running', 'the retry runs', 20_000);

  it('the spawn helper SIGKILLed: its run is lost with its task and retried, on a new helper', async () => {
    const marker = markedSleep();
    const { job, runId, pid } = await sleepingRun('helper-dies', marker);
    const helper = helperOf(pid);
    expect(helper).toEqual(expect.any(Number));
    process.kill(helper!, 'SIGKILL');
    await waitFor(() => !isAlive(pid), { timeoutMs: 5000, what: `task pid ${pid} dies with the helper` });
    const lost = await api.waitForRunStatus(runId, ['lost'], 15_000);
    expect(lost.error).toBe('the spawn helper exited (SIGKILL)');
    const retry = await retryOf(job.id);
    expect(retry.trigger).toBe('retry');
    const second = helperOf(await waitForPid(marker));
    expect(second).toEqual(expect.any(Number));
    expect(second).not.toBe(helper);
    await api.call('POST', `/api/runs/${retry.id}/cancel`, undefined, 202);
    await api.waitForRunStatus(retry.id, ['cancelled']);
  });

  it('a task dies with its executor (SIGKILL); the run is lost, then retried on the restarted executor', async () => {
    const { job, runId, pid } = await sleepingRun('orphan', markedSleep());
    const address = executor.address;
    await executor.app.kill('SIGKILL');
    await waitFor(() => !isAlive(pid), { timeoutMs: 5000, what: `task pid ${pid} dies with its executor` });
    // lease_ttl is 1 s here: lost within 2 TTLs of the executor vanishing (wide margin for a loaded machine).
    const lost = await api.waitForRunStatus(runId, ['lost'], 15_000);
    expect(lost.error).toMatch(/vanished/);
    executor = await startExecutor({ ...env }, `executor-${dialect}-2`, Number(address.split(':')[1]));
    const retry = await retryOf(job.id);
    expect(retry.trigger).toBe('retry');
    expect(retry.executorId).toBe(`executor-${dialect}-2`);
    await api.call('POST', `/api/runs/${retry.id}/cancel`, undefined, 202);
  });
});

// Issue 11, items 10 and 11, through a real dispatcher on SQLite: null where the job has none, and a body nested
// thousands of levels deep, were 500s (a NOT NULL column, a stack overflow in validation); a weekday step ran onto
// Sunday.
describe('bad values are 400s naming them, and weekday steps end at Saturday', () => {
  let api: Api;

  beforeAll(async () => {
    const executorPort = await freePort(); // nothing listens there: no run is started here
    const dispatcher = await startDispatcher(
      { ...(await sqliteEnv('nulls')), GOCRON_EXECUTOR_STATIC_TARGETS: `127.0.0.1:${executorPort}` },
      'dispatcher-nulls',
    );
    api = new Api(dispatcher.base);
  });

  afterAll(() => stopAllApps());

  const valid = { name: 'nulls', cron: ONCE_A_YEAR, type: 'shell', command: 'true' };
  const notNull = [
    'name',
    'description',
    'cron',
    'timezone',
    'type',
    'env',
    'timeoutMs',
    'retries',
    'retryBackoffMs',
    'concurrency',
    'misfire',
    'group',
    'routing',
    'enabled',
  ];

  async function expect400(method: string, path: string, body: unknown, message: RegExp): Promise<void> {
    const res = await api.call<{ statusCode: number; message: string | string[]; error: string }>(method, path, body);
    expect({ path, body: typeof body === 'string' ? body.slice(0, 40) : body, status: res.status }).toEqual({
      path,
      body: typeof body === 'string' ? body.slice(0, 40) : body,
      status: 400,
    });
    expect(res.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    expect(JSON.stringify(res.body.message)).toMatch(message);
  }

  it('answers null in any PATCH or POST field, nested ones included, with a 400 naming the field', async () => {
    const job = await api.createJob(valid);
    for (const field of notNull) {
      await expect400('PATCH', `/api/jobs/${job.id}`, { [field]: null }, new RegExp(`${field} must not be null`));
      await expect400('POST', '/api/jobs', { ...valid, name: 'other', [field]: null }, new RegExp(`${field} must not`));
    }
    const http = { method: 'GET', url: 'http://127.0.0.1:9/' };
    await expect400(
      'PATCH',
      `/api/jobs/${job.id}`,
      { http: { ...http, method: null } },
      /http\.method must not be null/,
    );
    await expect400('PATCH', `/api/jobs/${job.id}`, { env: { A: null } }, /env\.A must be a string, got null/);
    await expect400('PATCH', `/api/jobs/${job.id}`, { command: null }, /command is required for a shell job/);
    await expect400(
      'POST',
      '/api/jobs',
      { ...valid, name: 'other', type: 'http', command: null, http: { ...http, headers: { 'X-A': null } } },
      /http\.headers\.X-A must be a string, got null/,
    );
    // The stored job is untouched, and null stays accepted where the job has none: switching type clears the other.
    expect((await api.call<Record<string, unknown>>('GET', `/api/jobs/${job.id}`, undefined, 200)).body).toMatchObject({
      name: 'nulls',
      type: 'shell',
      command: 'true',
      http: null,
    });
    const switched = await api.call<Record<string, unknown>>(
      'PATCH',
      `/api/jobs/${job.id}`,
      { type: 'http', command: null, http: { ...http, headers: null, body: null, expectStatus: null } },
      200,
    );
    expect(switched.body).toMatchObject({ type: 'http', command: null, http: { ...http, headers: {}, body: '' } });
  });

  it('answers a body nested thousands of levels deep with a 400 naming the bound, never a 500', async () => {
    const deep = (levels: number) => '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);
    const body = `{"name":"deep","cron":"${ONCE_A_YEAR}","type":"shell","command":"true","env":${deep(5000)}}`;
    await expect400('POST', '/api/jobs', body, /body: JSON nested deeper than 64 levels/);
    await expect400('POST', '/api/jobs', '['.repeat(5000) + ']'.repeat(5000), /JSON nested deeper than 64 levels/);
    await expect400('PATCH', '/api/jobs/1', `{"http":${deep(3000)}}`, /JSON nested deeper than 64 levels/);
    await expect400('GET', '/api/jobs?offset=', undefined, /offset must be an integer/);
    await expect400('GET', '/api/jobs?limit=1&limit=2', undefined, /limit must be an integer/);
    expect((await api.call('GET', '/api/health')).status).toBe(200);
  });

  it('fires 0 0 * * 1/2 on Monday, Wednesday and Friday, and 5-7 on Friday to Sunday', async () => {
    const next = async (expr: string) =>
      (
        await api.call<{ next: string[] }>(
          'GET',
          `/api/cron/next?expr=${encodeURIComponent(expr)}&from=2026-01-04T12:00:00Z&count=6`,
          undefined,
          200,
        )
      ).body.next.map((iso) => iso.slice(0, 10));
    // 2026-01-05 is a Monday.
    expect(await next('0 0 * * 1/2')).toEqual([
      '2026-01-05',
      '2026-01-07',
      '2026-01-09',
      '2026-01-12',
      '2026-01-14',
      '2026-01-16',
    ]);
    expect(await next('0 0 * * 5-7')).toEqual([
      '2026-01-09',
      '2026-01-10',
      '2026-01-11',
      '2026-01-16',
      '2026-01-17',
      '2026-01-18',
    ]);
  });
});

// Issue 11, item 1, through a real dispatcher on SQLite: every Job answer carries its version, as a field and as a
// strong ETag; PATCH, pause and resume with an If-Match that is not the current version are 412s that change
// nothing, and an If-Match that is no entity tag is a 400 naming the header. (The interleavings themselves, two
// PATCHes between one read and one write, are in apps/dispatcher/src/jobs/jobs.service.int-spec.ts.)
describe('ETag and If-Match on jobs', () => {
  let base: string;

  beforeAll(async () => {
    const executorPort = await freePort(); // nothing listens there: no run is started here
    const dispatcher = await startDispatcher(
      { ...(await sqliteEnv('etag')), GOCRON_EXECUTOR_STATIC_TARGETS: `127.0.0.1:${executorPort}` },
      'dispatcher-etag',
    );
    base = dispatcher.base;
  });

  afterAll(() => stopAllApps());

  interface Answer {
    status: number;
    etag: string | null;
    body: Record<string, unknown>;
  }

  async function send(method: string, path: string, body?: unknown, ifMatch?: string): Promise<Answer> {
    const headers: Record<string, string> = bearer();
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (ifMatch !== undefined) headers['if-match'] = ifMatch;
    const res = await fetch(`${base}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, etag: res.headers.get('etag'), body: text ? (JSON.parse(text) as never) : {} };
  }

  /** The answer, checked: its status, and for a Job the ETag that is its version. */
  async function expectJob(answer: Promise<Answer>, status: number, version: number): Promise<Answer> {
    const a = await answer;
    expect({ status: a.status, etag: a.etag, version: a.body.version }).toEqual({
      status,
      etag: `"${version}"`,
      version,
    });
    return a;
  }

  async function expectRefused(answer: Promise<Answer>, status: 400 | 412, message: RegExp): Promise<void> {
    const a = await answer;
    expect({ status: a.status, body: a.body }).toMatchObject({
      status,
      body: { statusCode: status, error: status === 400 ? 'Bad Request' : 'Precondition Failed' },
    });
    expect(String(a.body.message)).toMatch(message);
  }

  const job = { name: 'etag', cron: ONCE_A_YEAR, type: 'shell', command: 'true' };

  it('sends the version as a strong ETag on POST, GET, PATCH, pause and resume', async () => {
    const created = await expectJob(send('POST', '/api/jobs', job), 201, 1);
    const path = `/api/jobs/${String(created.body.id)}`;
    await expectJob(send('GET', path), 200, 1);
    await expectJob(send('PATCH', path, { description: 'one' }), 200, 2);
    await expectJob(send('POST', `${path}/pause`), 200, 3);
    await expectJob(send('POST', `${path}/resume`), 200, 4);
    const got = await expectJob(send('GET', path), 200, 4);
    expect(got.body).toMatchObject({ description: 'one', enabled: true });
    const list = await send('GET', '/api/jobs?q=etag');
    expect(list.body.items).toEqual([expect.objectContaining({ id: created.body.id, version: 4 })]);
  });

  it('answers PATCH, pause and resume with a stale If-Match with 412 naming the current version, changing nothing', async () => {
    const { body } = await expectJob(send('POST', '/api/jobs', { ...job, name: 'stale' }), 201, 1);
    const path = `/api/jobs/${String(body.id)}`;
    await expectJob(send('PATCH', path, { description: 'v2' }, '"1"'), 200, 2);
    await expectRefused(send('PATCH', path, { description: 'lost' }, '"1"'), 412, /version 2\b/);
    await expectRefused(send('POST', `${path}/pause`, undefined, '"1"'), 412, /version 2\b/);
    await expectJob(send('POST', `${path}/pause`, undefined, '"2"'), 200, 3);
    await expectRefused(send('POST', `${path}/resume`, undefined, '"2"'), 412, /version 3\b/);
    expect((await expectJob(send('GET', path), 200, 3)).body).toMatchObject({ description: 'v2', enabled: false });
    // What else If-Match may say: * (any version), a bare number, a list; a weak tag never matches (RFC 9110).
    await expectJob(send('POST', `${path}/resume`, undefined, '*'), 200, 4);
    await expectJob(send('PATCH', path, { description: 'v5' }, '4'), 200, 5);
    await expectJob(send('PATCH', path, { description: 'v6' }, '"1", "5"'), 200, 6);
    await expectRefused(send('PATCH', path, { description: 'weak' }, 'W/"6"'), 412, /version 6\b/);
    // An unknown job stays a 404 whatever If-Match says.
    expect((await send('PATCH', '/api/jobs/999999', { description: 'x' }, '"1"')).status).toBe(404);
  });

  it('answers an If-Match that is not an entity tag with a 400 naming the header', async () => {
    const { body } = await expectJob(send('POST', '/api/jobs', { ...job, name: 'malformed' }), 201, 1);
    const path = `/api/jobs/${String(body.id)}`;
    for (const bad of ['', ',', 'abc', '"abc"', '"1', '*, "1"', 'W/1', '"-1"', '"1.5"']) {
      await expectRefused(send('PATCH', path, { description: 'x' }, bad), 400, /If-Match/);
      await expectRefused(send('POST', `${path}/pause`, undefined, bad), 400, /If-Match/);
      await expectRefused(send('POST', `${path}/resume`, undefined, bad), 400, /If-Match/);
    }
    expect((await expectJob(send('GET', path), 200, 1)).body).toMatchObject({ description: '', enabled: true });
  });

  it('documents If-Match, the ETag and the 412 in Swagger', async () => {
    const doc = (await send('GET', '/api/docs-json')).body as {
      paths: Record<string, Record<string, { parameters?: { name: string; in: string }[]; responses: object }>>;
    };
    for (const [path, method] of [
      ['/api/jobs/{id}', 'patch'],
      ['/api/jobs/{id}/pause', 'post'],
      ['/api/jobs/{id}/resume', 'post'],
    ]) {
      const op = doc.paths[path][method];
      expect({ path, params: op.parameters }).toEqual({
        path,
        params: expect.arrayContaining([expect.objectContaining({ name: 'If-Match', in: 'header' })]),
      });
      expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['200', '412']));
    }
    expect(JSON.stringify(doc.paths['/api/jobs/{id}'].get.responses)).toContain('ETag');
  });
});
