// Jobs that depend on jobs, with real parts: two dispatchers and an executor as child processes on MariaDB, Redis
// and etcd. Chains, fan-out, fan-in, a retried parent, and every dispatcher SIGKILLed while a parent runs: each
// child run exactly once, after its parents' finish.
import { createConnection } from 'mysql2/promise';
import { Api, Dispatcher, Executor, Job, Run, startDispatcher, startExecutor } from './support/gocron';
import { stopAllApps } from './support/processes';
import { createMysqlDatabase, etcdEnv, redisEnv, TestDatabase } from './support/services';
import { waitFor } from './support/wait';

const TTL_S = 2;
/** Yearly: these jobs run only when triggered or started by their parents. */
const NEVER = '0 0 1 1 *';

interface RunDetail extends Run {
  parentRunIds: number[];
  upstream: { id: number; jobId: number }[];
  downstream: { id: number; jobId: number }[];
}

describe('dependencies: 2 dispatchers, 1 executor on MariaDB, Redis, etcd', () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  let d1: Dispatcher;
  let d2: Dispatcher;
  let executor: Executor;
  let api: Api;
  let seq = 0;

  beforeAll(async () => {
    db = await createMysqlDatabase('deps');
    env = { ...db.env, ...redisEnv('deps'), ...etcdEnv('deps'), GOCRON_ETCD_LEASE_TTL: String(TTL_S) };
    [d1, d2] = await Promise.all([startDispatcher(env, 'd1'), startDispatcher(env, 'd2')]);
    executor = await startExecutor(env, 'e1');
    api = new Api(d1.base);
    await waitFor(async () => (await api.call<unknown[]>('GET', '/api/executors', undefined, 200)).body.length === 1, {
      timeoutMs: 15_000,
      what: 'the executor listed',
    });
  });

  afterAll(async () => {
    await stopAllApps();
    await db?.drop();
  });

  const shell = (command: string, over: Record<string, unknown> = {}) =>
    api.createJob({ name: `dep-${++seq}`, cron: NEVER, type: 'shell', command, concurrency: 'allow', ...over });

  const child = (parents: [Job, string][], command = 'true', over: Record<string, unknown> = {}) =>
    shell(command, { cron: '', dependsOn: parents.map(([p, on]) => ({ jobId: p.id, on })), ...over });

  const cascade = async (job: Job) =>
    (await api.call<{ runId: number }>('POST', `/api/jobs/${job.id}/trigger?cascade=true`, undefined, 202)).body.runId;

  async function sql<T>(query: string, params: unknown[]): Promise<T[]> {
    const conn = await createConnection(db.connection);
    try {
      return (await conn.query(query, params))[0] as T[];
    } finally {
      await conn.end();
    }
  }

  /**
   * Waits until the dependency pass's stored (settled) position is past these runs' last write: every dispatcher's
   * second read, 10 s behind the writes, has gone over them, so whatever they were to start is started.
   */
  const settledPast = async (runIds: number[]) => {
    const rows = await sql<{ u: number | string }>(`SELECT MAX(updated_at) AS u FROM runs WHERE id IN (?)`, [runIds]);
    const last = Number(rows[0].u);
    await waitFor(
      async () => {
        const [c] = await sql<{ pos_at: number | string }>(`SELECT pos_at FROM pass_cursors WHERE name = 'dependencies'`, []);
        return c !== undefined && Number(c.pos_at) > last;
      },
      { timeoutMs: 30_000, what: 'the settled dependency read went past the runs', intervalMs: 250 },
    );
  };

  const final = (r: Run) => !['pending', 'running'].includes(r.status);

  /** The job's dependency runs once `n` of them have ended. */
  const ended = (job: Job, n: number, timeoutMs = 30_000) =>
    waitFor(
      async () => {
        const runs = (await api.runs(job.id)).filter((r) => r.trigger === 'dependency');
        return runs.length >= n && runs.every(final) ? runs : undefined;
      },
      { timeoutMs, what: `${n} dependency run(s) of ${job.name} ended`, intervalMs: 200 },
    );

  /** Asserts the job has no dependency run. */
  const none = async (job: Job) => expect((await api.runs(job.id)).filter((r) => r.trigger === 'dependency')).toEqual([]);

  it('a chain A → B → C runs in order, each child after its parent finished; a plain manual run starts nothing', async () => {
    const a = await shell('echo a');
    const b = await child([[a, 'success']], 'echo b');
    const c = await child([[b, 'success']], 'echo c');
    const plain = await api.trigger(a.id);
    await api.waitForRunStatus(plain, ['succeeded']);
    const root = await cascade(a);
    const [rc] = await ended(c, 1);
    await settledPast([plain, root]);
    const [rb] = (await api.runs(b.id)).filter((r) => r.trigger === 'dependency');
    const ra = await api.run(root);
    expect([ra.status, rb.status, rc.status]).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(Date.parse(rb.startedAt as string)).toBeGreaterThanOrEqual(Date.parse(ra.finishedAt as string));
    expect(Date.parse(rc.startedAt as string)).toBeGreaterThanOrEqual(Date.parse(rb.finishedAt as string));
    const detail = (await api.call<RunDetail>('GET', `/api/runs/${rb.id}`, undefined, 200)).body;
    expect(detail.parentRunIds).toEqual([root]);
    expect(detail.upstream.map((u) => u.id)).toEqual([root]);
    expect(detail.downstream.map((d) => d.id)).toEqual([rc.id]);
    // The plain manual run started nothing: B has exactly the one run from the cascade.
    expect((await api.runs(b.id)).filter((r) => r.trigger === 'dependency')).toHaveLength(1);
  });

  it('a failure stops the chain unless on: failure or always; fan-out starts every child', async () => {
    const a = await shell('exit 3');
    const onSuccess = await child([[a, 'success']]);
    const onFailure = await child([[a, 'failure']], 'echo "$GOCRON_PARENT_EXIT_CODE_' + a.id + '"');
    const always = await child([[a, 'always']]);
    const root = await cascade(a);
    await api.waitForRunStatus(root, ['failed']);
    const [rf] = await ended(onFailure, 1);
    await ended(always, 1);
    expect(rf.status).toBe('succeeded');
    expect(rf.output?.trim()).toBe('3');
    await settledPast([root]);
    await none(onSuccess);
  });

  it('fan-in {A, B} → D: `all` waits for both parents of the same tick and runs once; `any` once per parent', async () => {
    const every = '*/2 * * * * *';
    // Scheduled only once their children exist: a run that ended before would start them or not by timing.
    const a = await shell('sleep 0.2');
    const b = await shell('sleep 0.6');
    const all = await child([
      [a, 'success'],
      [b, 'success'],
    ]);
    const any = await child(
      [
        [a, 'success'],
        [b, 'success'],
      ],
      'true',
      { dependencyMode: 'any' },
    );
    for (const j of [a, b]) await api.call('PATCH', `/api/jobs/${j.id}`, { cron: every }, 200);
    const runsAll = await waitFor(
      async () => {
        const runs = (await api.runs(all.id)).filter((r) => r.trigger === 'dependency' && final(r));
        return runs.length >= 3 ? runs : undefined;
      },
      { timeoutMs: 30_000, what: 'three fan-in runs', intervalMs: 250 },
    );
    // Unscheduled, not paused (a paused parent would block its children): the parents' last runs end.
    for (const j of [a, b]) await api.call('PATCH', `/api/jobs/${j.id}`, { cron: NEVER }, 200);
    const parentRuns = await waitFor(
      async () => {
        const [ra, rb] = [await api.runs(a.id), await api.runs(b.id)];
        return [...ra, ...rb].every(final) ? { ra, rb } : undefined;
      },
      { timeoutMs: 15_000, what: 'the parents ended' },
    );
    const succeededTicks = (runs: Run[]) => new Set(runs.filter((r) => r.status === 'succeeded').map((r) => r.scheduledAt));
    const [ta, tb] = [succeededTicks(parentRuns.ra), succeededTicks(parentRuns.rb)];
    const both = [...ta].filter((t) => tb.has(t));
    await settledPast([...parentRuns.ra, ...parentRuns.rb].map((r) => r.id));
    await waitFor(
      async () => {
        const n = (await api.runs(all.id)).filter((r) => r.trigger === 'dependency').length;
        const m = (await api.runs(any.id)).filter((r) => r.trigger === 'dependency').length;
        return n === both.length && m === ta.size + tb.size;
      },
      { timeoutMs: 15_000, what: 'one `all` run per tick both parents ran, one `any` run per parent run' },
    );
    expect(runsAll.length).toBeGreaterThanOrEqual(3);
    // Each `all` run names one run of each parent of the same tick.
    for (const r of (await api.runs(all.id)).filter((x) => x.trigger === 'dependency')) {
      const detail = (await api.call<RunDetail>('GET', `/api/runs/${r.id}`, undefined, 200)).body;
      const ups = await Promise.all(detail.parentRunIds.map((id) => api.run(id)));
      expect(ups.map((u) => u.jobId).sort()).toEqual([a.id, b.id].sort());
      expect(new Set(ups.map((u) => u.scheduledAt)).size).toBe(1);
    }
  });

  it('a parent that fails and then succeeds on its retry starts the child once', async () => {
    const flag = `/tmp/gocron-deps-retry-${process.pid}-${Date.now()}`;
    const a = await shell(`if [ -e ${flag} ]; then rm -f ${flag}; exit 0; else touch ${flag}; exit 1; fi`, {
      retries: 2,
      retryBackoffMs: 200,
    });
    const b = await child([[a, 'success']]);
    const onFailure = await child([[a, 'failure']]);
    const root = await cascade(a);
    await api.waitForRun(a.id, (r) => r.attempt === 2 && r.status === 'succeeded', 'the retry succeeded', 20_000);
    await api.waitForRunStatus(root, ['failed']);
    const [rb] = await ended(b, 1);
    expect(rb.status).toBe('succeeded');
    await settledPast((await api.runs(a.id)).map((r) => r.id));
    expect((await api.runs(b.id)).filter((r) => r.trigger === 'dependency')).toHaveLength(1);
    await none(onFailure);
  });

  it('a cycle is a 400 that names it', async () => {
    const a = await shell('true');
    const b = await child([[a, 'success']]);
    const res = await api.call<{ message: string | string[] }>('PATCH', `/api/jobs/${a.id}`, {
      dependsOn: [{ jobId: b.id, on: 'success' }],
    });
    expect(res.status).toBe(400);
    const message = JSON.stringify(res.body.message);
    expect(message).toMatch(/cycle/);
    for (const j of [a, b]) expect(message).toMatch(new RegExp(`\\b${j.id}\\b`));
    // Refused as a whole: A still has no parents.
    expect((await api.call<{ dependsOn: unknown[] }>('GET', `/api/jobs/${a.id}`, undefined, 200)).body.dependsOn).toEqual([]);
  });

  it('every dispatcher SIGKILLed while a 2 s parent runs, then one started: the child runs exactly once', async () => {
    const a = await shell('sleep 2');
    const b = await child([[a, 'success']]);
    const root = await cascade(a);
    await api.waitForRunStatus(root, ['running'], 15_000);
    await Promise.all([d1.app.kill('SIGKILL'), d2.app.kill('SIGKILL')]);
    // The parent finishes while no dispatcher runs: the executor writes its result to the ledger.
    await waitFor(
      async () => {
        const [row] = await sql<{ status: string }>(`SELECT status FROM runs WHERE id = ?`, [root]);
        return row?.status === 'succeeded';
      },
      { timeoutMs: 20_000, what: 'the parent run succeeded with no dispatcher up' },
    );
    d1 = await startDispatcher(env, 'd1', d1.port);
    api = new Api(d1.base);
    const [rb] = await ended(b, 1);
    expect(rb.status).toBe('succeeded');
    d2 = await startDispatcher(env, 'd2', d2.port);
    await settledPast([root]);
    expect((await api.runs(b.id)).filter((r) => r.trigger === 'dependency')).toHaveLength(1);
    expect(executor.address).toBeTruthy();
  });
});
