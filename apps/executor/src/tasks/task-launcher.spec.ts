import type { AppConfig } from '@app/config';
import { jobTaskOf, PlainSecrets } from '@app/persistence';
import type {
  JobEntity,
  LedgerKey,
  RetryPolicy,
  RunBatchRepository,
  RunResult,
  RunsRepository,
} from '@app/persistence';
import { ActiveRuns } from './active-runs';
import type { DispatcherEndpoints } from './dispatcher-endpoints';
import type { ExecutorMetrics } from '../metrics/executor-metrics';
import { TaskLauncher } from './task-launcher';

const config = {
  executor: { id: 'e1', capacity: 4, advertise: '127.0.0.1:1', httpAllow: [], httpDeny: [] },
} as unknown as AppConfig;
const noDispatchers = { list: () => [] } as unknown as DispatcherEndpoints;
const AT = Date.UTC(2026, 0, 1);

const shellJob = (command: string, over: Partial<JobEntity> = {}): JobEntity =>
  ({
    id: 1,
    version: 1,
    type: 'shell',
    command,
    env: {},
    http: null,
    timeoutMs: 10_000,
    retries: 0,
    retryBackoffMs: 100,
    ...over,
  }) as JobEntity;

/** Launches one run of `job` under `run`; resolves with what was written to the ledger, and how. */
function launchOne(job: JobEntity, run: LedgerKey, secrets?: PlainSecrets) {
  return new Promise<{ via: string; result: RunResult; policy?: RetryPolicy; run?: LedgerKey }>((resolve) => {
    const batch = {
      finishMany: (rows: { id: number; result: RunResult }[]) => {
        resolve({ via: 'finishMany', result: rows[0].result });
        return Promise.resolve(new Set(rows.map((r) => r.id)));
      },
    } as unknown as RunBatchRepository;
    const runs = {
      finishWithRetry: (key: LedgerKey, result: RunResult, policy: RetryPolicy) => {
        resolve({ via: 'finishWithRetry', result, policy, run: key });
        return Promise.resolve({ finished: true, retry: null });
      },
    } as unknown as RunsRepository;
    const active = new ActiveRuns();
    const built = jobTaskOf(job);
    if ('problem' in built) throw new Error(built.problem);
    new TaskLauncher(config, runs, batch, active, noDispatchers).launchPaced([
      { run, job, task: built.task, secrets, slot: active.reserve(run.id, run.jobId) },
    ]);
  });
}

const key = (over: Partial<LedgerKey> = {}): LedgerKey => ({
  id: 10,
  jobId: 1,
  tickKey: String(AT / 1000),
  attempt: 2,
  executorKey: '',
  scheduledAt: AT,
  ...over,
});

describe('TaskLauncher runs the job as the ledger holds it', () => {
  it("tells the task the ledger's attempt and instant", async () => {
    const written = await launchOne(
      shellJob('printf "%s|%s|%s" "$GOCRON_ATTEMPT" "$GOCRON_SCHEDULED_AT" "$GOCRON_RUN_ID"'),
      key(),
    );
    expect(written).toMatchObject({
      via: 'finishMany',
      result: { status: 'succeeded', output: '2|2026-01-01T00:00:00.000Z|10' },
    });
  });

  it("claims a retry under the job's policy and the run's ledger key", async () => {
    const written = await launchOne(shellJob('exit 3', { retries: 2, retryBackoffMs: 250, timeoutMs: 7000 }), key());
    expect(written).toMatchObject({
      via: 'finishWithRetry',
      result: { status: 'failed', exitCode: 3 },
      policy: { retries: 2, retryBackoffMs: 250, timeoutMs: 7000 },
      run: key(),
    });
  });

  it("stops the task at the job's timeout", async () => {
    const started = Date.now();
    const written = await launchOne(shellJob('sleep 20', { timeoutMs: 300 }), key());
    expect(written.result.status).toBe('timed_out');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('gives the task its secret variables (over plain ones) and masks them in output and error', async () => {
    const secrets = { env: { TOKEN: 'tok-secret-123', SAME: 'secret-wins' }, headers: {} };
    const written = await launchOne(
      shellJob('printf "%s %s %s" "$TOKEN" "${#TOKEN}" "$SAME"; echo "err $TOKEN" >&2; exit 4', {
        env: { SAME: 'plain-loses' },
      }),
      key(),
      secrets,
    );
    expect(written.result.output).toBe('*** 14 ***err ***\n');
    expect(written.result.output).not.toContain('plain-loses');
  });

  it.each([0, 5, 10, 15, 20])(
    'masks a secret split across the head and the tail of truncated output (%i bytes of padding)',
    async (padding) => {
      const secret = 'splitSecret-Hb5Ju8Kd2Lp9';
      // 150 KB of the secret over and over: wherever the buffer cuts (moved by the padding), a piece of it ends the
      // head and another starts the tail.
      const command = `printf "%${padding}s"; i=0; while [ $i -lt 6000 ]; do printf "%s " "$S"; i=$((i+1)); done`;
      const written = await launchOne(shellJob(command), key(), { env: { S: secret }, headers: {} });
      const output = written.result.output ?? '';
      expect(written.result.outputTruncated).toBe(true);
      expect(output).toMatch(/\*\*\* .{0,3}\n… \[\d+ bytes omitted\] …\n.{0,3} ?\*\*\*/);
      const pieces = [...Array(secret.length - 3).keys()].map((i) => secret.slice(i, i + 4));
      expect(pieces.filter((piece) => output.includes(piece))).toEqual([]);
    },
  );
});

describe('TaskLauncher paces starts in one queue', () => {
  it('starts batches in the order they were taken, one slice at a time across all of them', async () => {
    const batch = {
      finishMany: (rows: { id: number }[]) => Promise.resolve(new Set(rows.map((r) => r.id))),
    } as unknown as RunBatchRepository;
    const active = new ActiveRuns();
    const launcher = new TaskLauncher(config, {} as RunsRepository, batch, active, noDispatchers);
    const built = jobTaskOf(shellJob('true'));
    if ('problem' in built) throw new Error(built.problem);
    const launches = (ids: number[]) =>
      ids.map((id) => ({ run: key({ id }), job: shellJob('true'), task: built.task, slot: active.reserve(id, 1) }));
    const [a, b] = [launches([1, 2]), launches([3, 4])];
    const started = () => [...a, ...b].filter((l) => l.slot.task).map((l) => l.run.id);
    const afterTurn = () => new Promise((resolve) => setImmediate(resolve));
    // Every clock read is 20 ms later: each slice (10 ms) has room for one start.
    let now = Date.now();
    const clock = jest.spyOn(Date, 'now').mockImplementation(() => (now += 20));
    try {
      launcher.launchPaced(a);
      launcher.launchPaced(b);
      expect(started()).toEqual([1]);
      await afterTurn();
      expect(started()).toEqual([1, 2]); // one slice a turn for both batches, not one for each
      await afterTurn();
      expect(started()).toEqual([1, 2, 3]);
      await afterTurn();
      expect(started()).toEqual([1, 2, 3, 4]);
    } finally {
      clock.mockRestore();
    }
    for (const l of [...a, ...b]) await l.slot.task!.done;
  });

  it('records a run whose launch throws as failed, and goes on with the next batch', async () => {
    const recorded: { id: number; result: RunResult }[] = [];
    const batch = {
      finishMany: (rows: { id: number; result: RunResult }[]) => {
        recorded.push(...rows);
        return Promise.resolve(new Set(rows.map((r) => r.id)));
      },
    } as unknown as RunBatchRepository;
    const active = new ActiveRuns();
    // A launch that throws before its task starts (here: counting the start, for the job's group 'bad').
    const metrics = {
      started: {
        inc: ({ group }: { group: string }) => {
          if (group === 'bad') throw new Error('counter broke');
        },
      },
      finished: { inc: () => undefined },
      duration: { observe: () => undefined },
    } as unknown as ExecutorMetrics;
    const launcher = new TaskLauncher(config, {} as RunsRepository, batch, active, noDispatchers, metrics);
    const built = jobTaskOf(shellJob('true'));
    if ('problem' in built) throw new Error(built.problem);
    const launch = (id: number, group: string) => ({
      run: key({ id }),
      job: shellJob('true', { group }),
      task: built.task,
      slot: active.reserve(id, 1),
    });
    const [bad, good] = [launch(1, 'bad'), launch(2, 'default')];
    launcher.launchPaced([bad]);
    launcher.launchPaced([good]);
    expect(bad.slot.task ?? null).toBeNull(); // never started
    await good.slot.task!.done;
    const until = Date.now() + 5000;
    while (recorded.length < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
    const byId = new Map(recorded.map((r) => [r.id, r.result]));
    expect(byId.get(1)).toMatchObject({ status: 'failed', error: 'could not start: counter broke' });
    expect(byId.get(2)).toMatchObject({ status: 'succeeded' });
    expect(active.size).toBe(0);
  });
});
