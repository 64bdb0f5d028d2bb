// A dispatcher killed (SIGKILL) and started again 5 s later: the ticks that fell meanwhile are handled per each
// job's misfire policy, every tick is accounted for exactly once, and none is silently lost. Then the same with
// several dispatchers: one frozen (SIGSTOP) through the outage and thawed after a new one recorded the dropped
// ticks, and a third started seconds after the second (issue 11, item 5).
import { Api, Dispatcher, Run, startDispatcher, startExecutor } from './support/gocron';
import { stopAllApps } from './support/processes';
import { createMysqlDatabase, freePort, redisEnv, TestDatabase } from './support/services';
import { waitFor } from './support/wait';

const SECOND = 1000;

/** Every tick second a job's records cover: its runs' ticks, and the ranges its skipped misfire records name. */
function coverage(runs: Run[]): { seconds: number[]; duplicates: number[] } {
  const seen = new Map<number, number>();
  const add = (t: number) => seen.set(t, (seen.get(t) ?? 0) + 1);
  for (const r of runs) {
    if (r.trigger !== 'schedule' && r.trigger !== 'misfire') continue;
    const range =
      r.status === 'skipped' && r.trigger === 'misfire' ? /from (\S+) to (\S+) dropped/.exec(r.error ?? '') : null;
    if (range) {
      for (let t = Date.parse(range[1]); t <= Date.parse(range[2]); t += SECOND) add(t);
    } else {
      add(Date.parse(r.scheduledAt));
    }
  }
  const seconds = [...seen.keys()].sort((a, b) => a - b);
  return { seconds, duplicates: seconds.filter((t) => seen.get(t)! > 1) };
}

describe('misfire after a dispatcher outage (MariaDB)', () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  let dispatcher: Dispatcher;
  let api: Api;
  const jobs: Record<string, number> = {};
  let runsOf: Record<string, Run[]> = {};
  let downFrom = 0;
  let upAt = 0;

  beforeAll(async () => {
    db = await createMysqlDatabase('misfire');
    const executorPort = await freePort();
    env = { ...db.env, GOCRON_EXECUTOR_STATIC_TARGETS: `127.0.0.1:${executorPort}` };
    const port = await freePort();
    dispatcher = await startDispatcher(env, 'dispatcher-1', port);
    await startExecutor(db.env, 'executor-1', executorPort);
    api = new Api(dispatcher.base);
    for (const policy of ['skip', 'once', 'all']) {
      const job = await api.createJob({
        name: `misfire-${policy}`,
        cron: '* * * * * *',
        type: 'shell',
        command: 'true',
        concurrency: 'allow',
        misfire: policy,
      });
      jobs[policy] = job.id;
    }
    for (const id of Object.values(jobs)) await api.waitForRun(id, (r) => r.status === 'succeeded', `job ${id} runs`);

    await dispatcher.app.kill('SIGKILL');
    downFrom = Date.now();
    // The outage itself: 5 s without a dispatcher (the scenario, not a wait for a condition).
    await waitFor(() => Date.now() - downFrom >= 5 * SECOND, {
      timeoutMs: 10_000,
      what: 'five seconds pass',
      intervalMs: 50,
    });
    dispatcher = await startDispatcher(env, 'dispatcher-2', port);
    upAt = Date.now();
    for (const id of Object.values(jobs)) {
      await api.waitForRun(
        id,
        (r) => r.status === 'succeeded' && Date.parse(r.scheduledAt) > upAt + SECOND,
        `job ${id} runs again`,
      );
    }
    for (const id of Object.values(jobs)) await api.call('POST', `/api/jobs/${id}/pause`, undefined, 200);
    // Let the last runs finish so every record is final.
    await waitFor(
      async () => {
        for (const id of Object.values(jobs)) {
          if ((await api.runs(id)).some((r) => r.status === 'pending' || r.status === 'running')) return false;
        }
        return true;
      },
      { timeoutMs: 15_000, what: 'no run pending or running' },
    );
    runsOf = {};
    for (const [policy, id] of Object.entries(jobs)) runsOf[policy] = await api.runs(id);
  });

  afterAll(async () => {
    await stopAllApps();
    await db?.drop();
  });

  it.each(['skip', 'once', 'all'])(
    "'%s': every tick second has exactly one record, before, during and after the outage",
    (policy) => {
      const { seconds, duplicates } = coverage(runsOf[policy]);
      expect(duplicates).toEqual([]);
      const gaps = seconds.slice(1).filter((t, i) => t - seconds[i] !== SECOND);
      expect(gaps).toEqual([]);
      expect(seconds[0]).toBeLessThan(downFrom);
      expect(seconds[seconds.length - 1]).toBeGreaterThan(upAt);
      expect(runsOf[policy].filter((r) => r.status === 'failed' || r.status === 'missed')).toEqual([]);
    },
  );

  it("'skip' fires none of the missed ticks and records them as one skipped range", () => {
    const runs = runsOf.skip;
    expect(runs.filter((r) => r.trigger === 'misfire' && r.status !== 'skipped')).toEqual([]);
    const skipped = runs.filter((r) => r.trigger === 'misfire' && r.status === 'skipped');
    expect(skipped).toHaveLength(1);
    expect(Number(/(\d+) missed tick/.exec(skipped[0].error ?? '')?.[1])).toBeGreaterThanOrEqual(4);
    expect(skipped[0].error).toMatch(/misfire: skip/);
  });

  it("'once' fires the latest missed tick once and records the rest as skipped", () => {
    const runs = runsOf.once;
    const fired = runs.filter((r) => r.trigger === 'misfire' && r.status !== 'skipped');
    expect(fired).toHaveLength(1);
    expect(fired[0].status).toBe('succeeded');
    const skipped = runs.filter((r) => r.trigger === 'misfire' && r.status === 'skipped');
    expect(skipped).toHaveLength(1);
    const rangeEnd = Date.parse(/to (\S+) dropped/.exec(skipped[0].error ?? '')![1]);
    expect(Date.parse(fired[0].scheduledAt)).toBe(rangeEnd + SECOND);
  });

  it("'all' fires each missed tick", () => {
    const runs = runsOf.all;
    const fired = runs.filter((r) => r.trigger === 'misfire');
    expect(fired.length).toBeGreaterThanOrEqual(4);
    expect(fired.every((r) => r.status === 'succeeded')).toBe(true);
  });
});

describe('misfire with several dispatchers: one frozen through the outage, two started seconds apart (MariaDB, Redis)', () => {
  let db: TestDatabase;
  const jobs: Record<string, number> = {};
  let runsOf: Record<string, (Run & { dispatcherId: string | null })[]> = {};
  let frozenAt = 0;
  let thawedAt = 0;

  beforeAll(async () => {
    db = await createMysqlDatabase('misfire-fence');
    const executorPort = await freePort();
    const env = {
      ...db.env,
      ...redisEnv('misfire-fence'),
      GOCRON_EXECUTOR_STATIC_TARGETS: `127.0.0.1:${executorPort}`,
    };
    const first = await startDispatcher(env, 'dispatcher-1');
    await startExecutor(db.env, 'executor-1', executorPort);
    const api = new Api(first.base);
    for (const policy of ['skip', 'once', 'all']) {
      const job = await api.createJob({
        name: `fence-${policy}`,
        cron: '* * * * * *',
        type: 'shell',
        command: 'true',
        concurrency: 'allow',
        misfire: policy,
      });
      jobs[policy] = job.id;
    }
    for (const id of Object.values(jobs)) await api.waitForRun(id, (r) => r.status === 'succeeded', `job ${id} runs`);

    // The only dispatcher stops dead (a VM paused, a stalled process): an outage, though it still holds its place.
    process.kill(first.app.pid, 'SIGSTOP');
    frozenAt = Date.now();
    await waitFor(() => Date.now() - frozenAt >= 5000, {
      timeoutMs: 10_000,
      what: 'five seconds pass',
      intervalMs: 50,
    });
    // A new dispatcher starts: the ticks since the freeze fell before it, no dispatcher at work on them.
    const second = await startDispatcher(env, 'dispatcher-2');
    const api2 = new Api(second.base);
    const secondUp = Date.now();
    for (const id of Object.values(jobs)) {
      await api2.waitForRun(id, (r) => Date.parse(r.scheduledAt) > secondUp, `job ${id} is scheduled again`);
    }
    // The frozen one wakes, well within the misfire threshold for it, and catches up from its own cursor through
    // ticks the second one recorded as dropped; a third dispatcher starts seconds after the second.
    process.kill(first.app.pid, 'SIGCONT');
    thawedAt = Date.now();
    await startDispatcher(env, 'dispatcher-3');
    // The thawed one walks its ticks in order: once it has claimed a tick after the thaw, it is past the outage.
    await waitFor(
      async () => {
        for (const id of Object.values(jobs)) {
          const runs = (await api2.runs(id)) as (Run & { dispatcherId: string | null })[];
          if (!runs.some((r) => r.dispatcherId === 'dispatcher-1' && Date.parse(r.scheduledAt) > thawedAt)) {
            return false;
          }
        }
        return true;
      },
      { timeoutMs: 30_000, what: 'the thawed dispatcher claims new ticks of every job', intervalMs: 200 },
    );
    for (const id of Object.values(jobs)) await api2.call('POST', `/api/jobs/${id}/pause`, undefined, 200);
    await waitFor(
      async () => {
        for (const id of Object.values(jobs)) {
          if ((await api2.runs(id)).some((r) => r.status === 'pending' || r.status === 'running')) return false;
        }
        return true;
      },
      { timeoutMs: 15_000, what: 'no run pending or running' },
    );
    runsOf = {};
    for (const [policy, id] of Object.entries(jobs)) {
      runsOf[policy] = (await api2.runs(id)) as (Run & { dispatcherId: string | null })[];
    }
  });

  afterAll(async () => {
    await stopAllApps();
    await db?.drop();
  });

  it.each(['skip', 'once', 'all'])(
    "'%s': every tick second has exactly one record: a run, or inside one recorded range",
    (policy) => {
      const { seconds, duplicates } = coverage(runsOf[policy]);
      expect(duplicates).toEqual([]);
      const gaps = seconds.slice(1).filter((t, i) => t - seconds[i] !== SECOND);
      expect(gaps).toEqual([]);
      expect(seconds[0]).toBeLessThan(frozenAt);
      expect(seconds[seconds.length - 1]).toBeGreaterThan(thawedAt);
      expect(runsOf[policy].filter((r) => r.status === 'failed' || r.status === 'missed')).toEqual([]);
    },
  );

  it.each(['skip', 'once'])(
    "'%s': the outage is one skipped range, recorded by the dispatcher that recovered",
    (policy) => {
      const ranges = runsOf[policy].filter((r) => r.trigger === 'misfire' && r.status === 'skipped');
      expect(ranges).toHaveLength(1);
      expect(ranges[0].dispatcherId).toBe('dispatcher-2');
      expect(Number(/(\d+) missed tick/.exec(ranges[0].error ?? '')?.[1])).toBeGreaterThanOrEqual(4);
    },
  );

  it("'once' fires the latest missed tick once, right after the range", () => {
    const fired = runsOf.once.filter((r) => r.trigger === 'misfire' && r.status !== 'skipped');
    expect(fired).toHaveLength(1);
    expect(fired[0].status).toBe('succeeded');
    const range = runsOf.once.find((r) => r.trigger === 'misfire' && r.status === 'skipped')!;
    expect(Date.parse(fired[0].scheduledAt)).toBe(Date.parse(/to (\S+) dropped/.exec(range.error ?? '')![1]) + SECOND);
  });
});
