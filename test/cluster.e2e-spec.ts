// Cluster mode with real parts: two dispatchers and two executors as child processes on MariaDB, Redis and etcd,
// lease_ttl 2 s. Processes are killed with SIGKILL mid-run; every tick must still have exactly one record.
import Redis from 'ioredis';
import { Api, Dispatcher, Executor, Job, Run, startDispatcher, startExecutor } from './support/gocron';
import { stopAllApps } from './support/processes';
import { createMysqlDatabase, etcdEnv, redisEnv, TestDatabase, testServices } from './support/services';
import { waitFor } from './support/wait';

const SECOND = 1000;
const TTL_S = 2;

interface TickReport {
  duplicates: string[];
  gaps: number[];
  active: Run[];
}

/** Per job: ticks with two first-attempt records, seconds without any, runs still pending or running. */
function tickReport(runs: Run[], everySeconds = 1): TickReport {
  const first = runs.filter((r) => (r.trigger === 'schedule' || r.trigger === 'misfire') && r.attempt === 1);
  const seen = new Map<string, number>();
  for (const r of first) seen.set(r.scheduledAt, (seen.get(r.scheduledAt) ?? 0) + 1);
  const ticks = [...seen.keys()].map((t) => Date.parse(t)).sort((a, b) => a - b);
  return {
    duplicates: [...seen].filter(([, n]) => n > 1).map(([t]) => t),
    gaps: ticks.slice(1).filter((t, i) => t - ticks[i] !== everySeconds * SECOND),
    active: runs.filter((r) => r.status === 'pending' || r.status === 'running'),
  };
}

const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

describe('cluster: 2 dispatchers, 2 executors on MariaDB, Redis, etcd', () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  let d1: Dispatcher;
  let d2: Dispatcher;
  let e1: Executor;
  let e2: Executor;
  let api1: Api;
  let api2: Api;

  const executors = async (api: Api) =>
    (await api.call<{ id: string }[]>('GET', '/api/executors', undefined, 200)).body;

  /** Pauses the jobs and waits until none of their runs is pending or running, then returns their runs. */
  async function settle(api: Api, jobs: Job[]): Promise<Map<number, Run[]>> {
    for (const j of jobs) await api.call('POST', `/api/jobs/${j.id}/pause`, undefined, 200);
    const out = new Map<number, Run[]>();
    await waitFor(
      async () => {
        for (const j of jobs) {
          const runs = await api.runs(j.id);
          if (runs.some((r) => r.status === 'pending' || r.status === 'running')) return false;
          out.set(j.id, runs);
        }
        return true;
      },
      { timeoutMs: 30_000, what: 'every run of the jobs has ended', intervalMs: 250 },
    );
    return out;
  }

  beforeAll(async () => {
    db = await createMysqlDatabase('cluster');
    env = { ...db.env, ...redisEnv('cluster'), ...etcdEnv('cluster'), GOCRON_ETCD_LEASE_TTL: String(TTL_S) };
    d1 = await startDispatcher(env, 'd1');
    d2 = await startDispatcher(env, 'd2');
    e1 = await startExecutor(env, 'e1');
    e2 = await startExecutor(env, 'e2');
    api1 = new Api(d1.base);
    api2 = new Api(d2.base);
    await waitFor(async () => (await executors(api2)).length === 2, {
      timeoutMs: 15_000,
      what: 'two executors listed',
    });
    await waitFor(async () => (await api1.call<unknown[]>('GET', '/api/dispatchers')).body.length === 2, {
      timeoutMs: 15_000,
      what: 'two dispatchers listed',
    });
  });

  afterAll(async () => {
    await stopAllApps();
    await db?.drop();
  });

  it('a job created on dispatcher 1 is scheduled by dispatcher 2 within 1 s, and unscheduled the same way', async () => {
    const scheduled = async () =>
      Number(/gocron_jobs_scheduled (\d+)/.exec(await fetch(`${d2.base}/metrics`).then((r) => r.text()))?.[1]);
    const before = await scheduled();
    const job = await api1.createJob({ name: 'propagate', cron: '0 0 1 1 *', type: 'shell', command: 'true' });
    const created = Date.now();
    await waitFor(async () => (await scheduled()) === before + 1, {
      timeoutMs: 3000,
      what: 'dispatcher 2 schedules it',
      intervalMs: 50,
    });
    const seen = Date.now() - created;
    await api1.call('DELETE', `/api/jobs/${job.id}`, undefined, 204);
    await waitFor(async () => (await scheduled()) === before, {
      timeoutMs: 3000,
      what: 'dispatcher 2 drops it',
      intervalMs: 50,
    });
    console.log(`job change seen by the other dispatcher after ${seen} ms`);
  });

  it('broadcast runs once per executor per tick; consistent_hash keeps a job on one executor', async () => {
    const b = await api1.createJob({
      name: 'broadcast',
      cron: '* * * * * *',
      type: 'shell',
      command: 'true',
      routing: 'broadcast',
      concurrency: 'allow',
    });
    const h = await api1.createJob({
      name: 'hash',
      cron: '* * * * * *',
      type: 'shell',
      command: 'true',
      routing: 'consistent_hash',
      concurrency: 'allow',
    });
    await waitFor(async () => (await api1.runs(h.id)).filter((r) => r.status === 'succeeded').length >= 4, {
      timeoutMs: 15_000,
      what: 'four runs of the hashed job',
    });
    const runs = await settle(api1, [b, h]);
    const perTick = new Map<string, string[]>();
    for (const r of runs.get(b.id)!)
      perTick.set(r.scheduledAt, [...(perTick.get(r.scheduledAt) ?? []), r.executorId ?? '?']);
    expect(perTick.size).toBeGreaterThanOrEqual(3);
    for (const ids of perTick.values()) expect(ids.sort()).toEqual(['e1', 'e2']);
    expect(new Set(runs.get(h.id)!.map((r) => r.executorId)).size).toBe(1);
  });

  it('Redis paused for 10 s: still zero duplicate and zero missing ticks', async () => {
    const jobs: Job[] = [];
    for (let i = 0; i < 5; i++) {
      jobs.push(
        await api1.createJob({
          name: `redis-pause-${i}`,
          cron: '* * * * * *',
          type: 'shell',
          command: 'true',
          concurrency: 'allow',
        }),
      );
    }
    await waitFor(async () => (await api1.runs(jobs[0].id)).length >= 2, { timeoutMs: 10_000, what: 'jobs run' });
    const admin = new Redis(testServices().redisUrl);
    const pausedAt = Date.now();
    try {
      await admin.call('CLIENT', 'PAUSE', '10000', 'ALL');
      await waitFor(
        async () => (await api1.runs(jobs[0].id)).some((r) => Date.parse(r.scheduledAt) > pausedAt + 11 * SECOND),
        {
          timeoutMs: 30_000,
          what: 'ticks after the pause',
          intervalMs: 500,
        },
      );
      const health = await api1.call<{ status: string }>('GET', '/api/health', undefined, 200);
      expect(health.body.status).toMatch(/ok|degraded/);
    } finally {
      await admin.call('CLIENT', 'UNPAUSE').catch(() => undefined);
      admin.disconnect();
    }
    const runs = await settle(api1, jobs);
    for (const j of jobs) {
      const report = tickReport(runs.get(j.id)!);
      expect({ job: j.name, ...report, active: report.active.length }).toEqual({
        job: j.name,
        duplicates: [],
        gaps: [],
        active: 0,
      });
      const ticks = runs.get(j.id)!.map((r) => Date.parse(r.scheduledAt));
      expect(Math.min(...ticks)).toBeLessThan(pausedAt);
      expect(Math.max(...ticks)).toBeGreaterThan(pausedAt + 10 * SECOND);
    }
  });

  it('forbid jobs behind long runs on both dispatchers: skips folded into one record per run, every tick once', async () => {
    const jobs: Job[] = [];
    for (let i = 0; i < 4; i++) {
      jobs.push(
        await (i % 2 ? api1 : api2).createJob({
          name: `long-forbid-${i}`,
          cron: '* * * * * *',
          type: 'shell',
          command: 'sleep 4',
          concurrency: 'forbid',
        }),
      );
    }
    // Three runs of each, with the ticks between them skipped.
    await waitFor(
      async () => {
        for (const j of jobs)
          if ((await api1.runs(j.id)).filter((r) => r.status === 'succeeded').length < 3) return false;
        return true;
      },
      { timeoutMs: 40_000, what: 'three finished runs of each forbid job', intervalMs: 500 },
    );
    const runs = await settle(api1, jobs);
    for (const j of jobs) {
      const all = runs.get(j.id)!.filter((r) => r.attempt === 1 && r.trigger !== 'manual');
      // Every tick the records stand for: a record of folded skips stands for each second from its first to its last.
      const ticks: number[] = [];
      for (const r of all) {
        const from = Date.parse(r.scheduledAt);
        const to = r.skippedUntil ? Date.parse(r.skippedUntil) : from;
        for (let t = from; t <= to; t += SECOND) ticks.push(t);
        if (r.status === 'skipped') expect((to - from) / SECOND + 1).toBe(r.skippedCount);
      }
      ticks.sort((a, b) => a - b);
      const skips = all.filter((r) => r.status === 'skipped');
      const folded = skips.reduce((n, r) => n + r.skippedCount, 0);
      expect({
        job: j.name,
        duplicates: ticks.filter((t, i) => i > 0 && t === ticks[i - 1]).map((t) => new Date(t).toISOString()),
        gaps: ticks
          .slice(1)
          .filter((t, i) => t - ticks[i] !== SECOND)
          .map((t) => new Date(t).toISOString()),
        other: all.filter((r) => !['succeeded', 'skipped'].includes(r.status)).map((r) => `${r.id} ${r.status}`),
      }).toEqual({ job: j.name, duplicates: [], gaps: [], other: [] });
      // Each run of 4 s is followed by about 3 skipped ticks, written as one record (two dispatchers racing for a
      // tick may start a second record now and then, never more rows than ticks).
      expect(folded).toBeGreaterThanOrEqual(2 * skips.length);
      expect(skips.length).toBeLessThanOrEqual(all.filter((r) => r.status === 'succeeded').length + 2);
    }
  });

  it('twenty jobs every second for 30 s, a dispatcher and an executor SIGKILLed midway: every tick once', async () => {
    const jobs: Job[] = [];
    for (let i = 0; i < 20; i++) {
      jobs.push(
        await api2.createJob({
          name: `steady-${i}`,
          cron: '* * * * * *',
          type: 'shell',
          command: 'sleep 0.2',
          concurrency: 'allow',
          retries: 1,
          retryBackoffMs: 100,
        }),
      );
    }
    const start = Date.now();
    await waitFor(() => Date.now() - start > 12 * SECOND, {
      timeoutMs: 20_000,
      what: '12 s of scheduling',
      intervalMs: 200,
    });
    await Promise.all([d1.app.kill('SIGKILL'), e1.app.kill('SIGKILL')]);
    const killedAt = Date.now();
    await waitFor(
      async () =>
        (await api2.runs(jobs[19].id)).some(
          (r) => r.status === 'succeeded' && Date.parse(r.scheduledAt) > start + 32 * SECOND,
        ),
      { timeoutMs: 60_000, what: 'ticks 32 s after the start', intervalMs: 500 },
    );
    const runs = await settle(api2, jobs);
    const lags: number[] = [];
    let lost = 0;
    for (const j of jobs) {
      const all = runs.get(j.id)!;
      const report = tickReport(all);
      expect({ job: j.name, ...report, active: report.active.length }).toEqual({
        job: j.name,
        duplicates: [],
        gaps: [],
        active: 0,
      });
      const ticks = all.map((r) => Date.parse(r.scheduledAt));
      expect(Math.min(...ticks)).toBeLessThan(killedAt - 5 * SECOND);
      expect(Math.max(...ticks)).toBeGreaterThan(killedAt + 15 * SECOND);
      for (const r of all.filter((x) => x.status === 'lost')) {
        lost++;
        // Retried, on the executor that is still up.
        const retry = all.find((x) => x.scheduledAt === r.scheduledAt && x.attempt === r.attempt + 1);
        expect(retry).toMatchObject({ status: 'succeeded', executorId: 'e2', trigger: 'retry' });
      }
      expect(all.filter((r) => r.status === 'failed' || r.status === 'missed')).toEqual([]);
      for (const r of all)
        if (r.startedAt && r.attempt === 1) lags.push(Date.parse(r.startedAt) - Date.parse(r.scheduledAt));
    }
    lags.sort((a, b) => a - b);
    console.log(
      `cluster tick-to-start lag over ${lags.length} runs: p50 ${pct(lags, 50)} ms, p99 ${pct(lags, 99)} ms, max ${lags[lags.length - 1]} ms; ${lost} run(s) lost and retried`,
    );
  });

  it('an executor killed during a long run: the run is lost within 2 TTLs and succeeds on the other executor', async () => {
    const e3 = await startExecutor(env, 'e3');
    await waitFor(async () => (await executors(api2)).some((e) => e.id === 'e3'), {
      timeoutMs: 10_000,
      what: 'e3 listed',
    });
    const job = await api2.createJob({
      name: 'long',
      cron: '0 0 1 1 *',
      type: 'shell',
      command: 'if [ "$GOCRON_ATTEMPT" = 1 ]; then sleep 30; fi; echo attempt $GOCRON_ATTEMPT',
      retries: 1,
      retryBackoffMs: 100,
      routing: 'consistent_hash',
    });
    const { runId } = (await api2.call<{ runId: number }>('POST', `/api/jobs/${job.id}/trigger`, undefined, 202)).body;
    const running = await api2.waitForRunStatus(runId, ['running']);
    const victim = running.executorId === 'e3' ? e3 : e2;
    await victim.app.kill('SIGKILL');
    const killedAt = Date.now();
    const lost = await api2.waitForRunStatus(runId, ['lost'], 3 * 2 * TTL_S * SECOND);
    const detectMs = Date.now() - killedAt;
    expect(lost.error).toMatch(/vanished/);
    const retry = await api2.waitForRun(
      job.id,
      (r) => r.attempt === 2 && r.status === 'succeeded',
      'the retry succeeds',
    );
    expect(retry.executorId).not.toBe(running.executorId);
    expect(retry.output).toBe('attempt 2\n');
    console.log(`dead executor's run declared lost ${detectMs} ms after SIGKILL (lease_ttl ${TTL_S} s)`);
    if (victim === e2) e2 = e3;
  });

  it('an executor stopped with SIGTERM leaves /api/executors at once; one killed leaves within a TTL', async () => {
    const e4 = await startExecutor(env, 'e4');
    const e5 = await startExecutor(env, 'e5');
    await waitFor(async () => (await executors(api2)).filter((e) => e.id === 'e4' || e.id === 'e5').length === 2, {
      timeoutMs: 10_000,
      what: 'e4 and e5 listed',
    });
    await e4.app.kill('SIGTERM');
    await waitFor(async () => !(await executors(api2)).some((e) => e.id === 'e4'), {
      timeoutMs: 1000,
      what: 'e4 gone at once',
      intervalMs: 50,
    });
    await e5.app.kill('SIGKILL');
    const killedAt = Date.now();
    await waitFor(async () => !(await executors(api2)).some((e) => e.id === 'e5'), {
      timeoutMs: 3 * TTL_S * SECOND,
      what: 'e5 gone within a TTL (3× margin)',
      intervalMs: 100,
    });
    expect(Date.now() - killedAt).toBeLessThan(3 * TTL_S * SECOND);
  });
});
