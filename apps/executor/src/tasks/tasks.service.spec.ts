import { SecretBox } from '@app/common';
import { SecretOpener } from './secret-opener';
import type { AppConfig } from '@app/config';
import type { JobEntity, LedgerKey, RunBatchRepository, RunStarts } from '@app/persistence';
import type { RunRequest } from '@app/protocol';
import { ActiveRuns } from './active-runs';
import type { JobCache } from './job-cache';
import type { LedgerWatch } from './ledger-watch.service';
import type { Presence } from './presence.service';
import type { ParentContexts } from './parent-contexts';
import type { ParentContext } from './runners/task-runner';
import type { Launch, TaskLauncher } from './task-launcher';
import { TasksService } from './tasks.service';

const config = { executor: { id: 'e1', group: 'mine', capacity: 8, advertise: '127.0.0.1:1' } } as AppConfig;
const AT = Date.UTC(2026, 0, 1);

const job = (id: number, over: Partial<JobEntity> = {}): JobEntity =>
  ({
    id,
    version: 1,
    type: 'shell',
    command: `echo job-${id}`,
    env: { FROM: 'row' },
    http: null,
    timeoutMs: 5000,
    retries: 2,
    retryBackoffMs: 100,
    group: 'mine',
    ...over,
  }) as JobEntity;

/** A pending run of `jobId` as the ledger holds it. */
const row = (id: number, jobId: number): LedgerKey => ({
  id,
  jobId,
  tickKey: String(AT / 1000),
  attempt: 1,
  executorKey: '',
  scheduledAt: AT,
});

/** A pending dependency run (trigger dependency, mode any) of `jobId`, its tick key derived from a parent run's. */
const depRow = (id: number, jobId: number): LedgerKey => ({ ...row(id, jobId), tickKey: `dep:2:${AT / 1000}` });

/** The request a caller sends for `run` (by default the ledger's key, and a task of the caller's own). */
const requestFor = (run: LedgerKey, over: Partial<RunRequest> = {}): RunRequest => ({
  runId: run.id,
  jobId: run.jobId,
  jobVersion: 1,
  scheduledAt: new Date(run.scheduledAt).toISOString(),
  attempt: run.attempt,
  tickKey: run.tickKey,
  executorKey: run.executorKey,
  timeoutMs: 1,
  dispatcherId: 'anyone',
  task: 'shell',
  shell: { command: 'echo PWNED', env: { FROM: 'caller' } },
  retry: { retries: 10, retryBackoffMs: 1 },
  ...over,
});

/**
 * The service over a ledger in memory: its CAS matches the whole key, as RunBatchRepository's does. `contexts`:
 * what ParentContexts answers for the runs it is asked about (the ids of those it is asked for are in parentReads).
 */
function setup(jobs: JobEntity[], runs: LedgerKey[], contexts: Map<number, ParentContext> | Error = new Map()) {
  const parentReads: number[][] = [];
  const parents = {
    of: (asked: LedgerKey[]) => {
      parentReads.push(asked.map((r) => r.id));
      return contexts instanceof Error ? Promise.reject(contexts) : Promise.resolve(contexts);
    },
  } as unknown as ParentContexts;
  const pending = new Map(runs.map((r) => [r.id, r]));
  const cas: LedgerKey[][] = [];
  const jobReads: Map<number, number>[] = [];
  const launched: Launch[] = [];
  const batch = {
    markRunningMany: (keys: LedgerKey[]): Promise<RunStarts> => {
      cas.push(keys);
      const out: RunStarts = { started: new Set(), mismatched: new Set() };
      for (const k of keys) {
        const r = pending.get(k.id);
        if (!r) continue;
        if (JSON.stringify(r) !== JSON.stringify({ ...r, ...k })) out.mismatched.add(k.id);
        else {
          pending.delete(k.id);
          out.started.add(k.id);
        }
      }
      return Promise.resolve(out);
    },
  } as unknown as RunBatchRepository;
  const cache = {
    jobsFor: (offered: Map<number, number>) => {
      jobReads.push(offered);
      return Promise.resolve(new Map(jobs.filter((j) => offered.has(j.id)).map((j) => [j.id, j])));
    },
  } as unknown as JobCache;
  const launcher = { launchPaced: (q: Launch[]) => launched.push(...q) } as unknown as TaskLauncher;
  const active = new ActiveRuns();
  const tasks = new TasksService(
    config,
    batch,
    cache,
    active,
    launcher,
    { draining: false } as Presence,
    { notReadyReason: () => null } as unknown as LedgerWatch,
    new SecretOpener(new SecretBox(Buffer.alloc(32, 7))),
    parents,
  );
  return { tasks, active, pending, cas, jobReads, launched, parentReads, batch };
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/** Holds every compare-and-set of `batch` until the returned function is called. */
function holdStarts(batch: RunBatchRepository): () => void {
  const markRunning = batch.markRunningMany.bind(batch);
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  batch.markRunningMany = async (...args: Parameters<RunBatchRepository['markRunningMany']>) => {
    await gate;
    return markRunning(...args);
  };
  return open;
}

describe('TasksService.startMany: the ledger decides, not the caller', () => {
  it('builds the task, timeout and retries from the job row, and the attempt and instant from the ledger key', async () => {
    const { tasks, launched, jobReads } = setup([job(1), job(2, { version: 4 })], [row(10, 1), row(11, 2)]);
    const outcomes = await tasks.startMany([
      requestFor(row(10, 1)),
      requestFor(row(11, 2), { jobVersion: 4, scheduledAt: '2026-01-01T00:00:00+00:00' }),
    ]);
    expect(outcomes.map((o) => o.accepted)).toEqual([true, true]);
    // One read for the batch's jobs, each with the version its runs were offered for.
    expect(jobReads).toEqual([
      new Map([
        [1, 1],
        [2, 4],
      ]),
    ]);
    await nextTurn();
    expect(launched.map((l) => [l.run.id, l.task, l.job.timeoutMs, l.job.retries])).toEqual([
      [10, { type: 'shell', command: 'echo job-1', env: { FROM: 'row' } }, 5000, 2],
      [11, { type: 'shell', command: 'echo job-2', env: { FROM: 'row' } }, 5000, 2],
    ]);
    expect(launched[1].run).toEqual(row(11, 2)); // the instant as stored, whatever its spelling on the wire
  });

  it('does not move a run named as another job’s: MISMATCH, still pending, nothing launched', async () => {
    const { tasks, pending, launched, active } = setup([job(1), job(2)], [row(10, 1)]);
    const [outcome] = await tasks.startMany([requestFor(row(10, 1), { jobId: 2 })]);
    expect(outcome).toMatchObject({ accepted: false, code: 'MISMATCH' });
    expect(outcome.message).toMatch(/^run 10 is not job 2's attempt 1/);
    const [forgedAttempt] = await tasks.startMany([requestFor(row(10, 1), { attempt: 3 })]);
    expect(forgedAttempt.code).toBe('MISMATCH');
    expect(pending.has(10)).toBe(true);
    await nextTurn();
    expect(launched).toEqual([]);
    expect(active.size).toBe(0);
  });

  it('refuses a run of another group before the compare-and-set: it stays pending for its own executors', async () => {
    const { tasks, pending, cas, active } = setup([job(3, { group: 'theirs' })], [row(12, 3)]);
    const [outcome] = await tasks.startMany([requestFor(row(12, 3))]);
    expect(outcome).toMatchObject({ accepted: false, code: 'WRONG_GROUP' });
    expect(outcome.message).toMatch(/job 3 is not of group 'mine'/);
    expect(outcome.message).not.toMatch(/theirs/); // the job's own group is not told to the caller
    expect(cas).toEqual([]);
    expect(pending.has(12)).toBe(true);
    expect(active.size).toBe(0);
  });

  it('answers a run named twice in one batch once: the copy gets the first one’s outcome, never INVALID', async () => {
    const full = setup([job(1)], [row(10, 1), row(11, 1)]);
    full.active.reserve(99, 1);
    for (let i = 0; i < 7; i++) full.active.reserve(100 + i, 1); // capacity 8, all held
    const refused = await full.tasks.startMany([requestFor(row(10, 1)), requestFor(row(10, 1))]);
    expect(refused.map((o) => [o.runId, o.code])).toEqual([
      [10, 'AT_CAPACITY'],
      [10, 'AT_CAPACITY'],
    ]);

    const { tasks, cas, pending } = setup([job(1)], [row(10, 1), row(11, 1)]);
    const outcomes = await tasks.startMany([requestFor(row(10, 1)), requestFor(row(11, 1)), requestFor(row(10, 1))]);
    expect(outcomes.map((o) => [o.runId, o.accepted, o.code])).toEqual([
      [10, true, ''],
      [11, true, ''],
      [10, true, ''],
    ]);
    expect(cas).toEqual([[row(10, 1), row(11, 1)]]); // one compare-and-set, each run once
    expect(pending.size).toBe(0);
  });

  it('refuses a run of a deleted job (JOB_GONE) and of a job whose row holds no task (INVALID)', async () => {
    const broken = job(5, { type: 'http', command: null, http: null });
    const { tasks, cas } = setup([broken], [row(13, 4), row(14, 5)]);
    const outcomes = await tasks.startMany([requestFor(row(13, 4)), requestFor(row(14, 5))]);
    expect(outcomes.map((o) => [o.code, o.message])).toEqual([
      ['JOB_GONE', 'job 4 does not exist'],
      ['INVALID', 'job 5 can not be run: job 5 is an http job without its http request (method and url)'],
    ]);
    expect(cas).toEqual([]);
  });

  it('answers LEDGER_DOWN, holding no slot, when the jobs can not be read', async () => {
    const { tasks, active } = setup([], [row(15, 1)]);
    (tasks as unknown as { jobs: JobCache }).jobs = {
      jobsFor: () => Promise.reject(new Error('connection refused')),
    } as unknown as JobCache;
    const [outcome] = await tasks.startMany([requestFor(row(15, 1))]);
    expect(outcome).toMatchObject({ code: 'LEDGER_DOWN', message: 'cannot read job 1: connection refused' });
    expect(active.size).toBe(0);
  });

  it('asks nothing about parents when no run of the batch is a dependency run', async () => {
    const { tasks, launched, parentReads } = setup([job(1)], [row(10, 1), row(11, 1)]);
    const outcomes = await tasks.startMany([requestFor(row(10, 1)), requestFor(row(11, 1))]);
    expect(outcomes.map((o) => o.accepted)).toEqual([true, true]);
    await nextTurn();
    expect(parentReads).toEqual([]);
    expect(launched.map((l) => l.parents)).toEqual([undefined, undefined]);
  });

  it("launches a dependency run with its parents' context, read once for the batch before the compare-and-set", async () => {
    const context: ParentContext = {
      runIds: [3, 4],
      runs: [{ id: 4, jobId: 2, exitCode: 0, httpStatus: null, outputTail: 'ok' }],
    };
    const { tasks, launched, parentReads, cas } = setup(
      [job(1)],
      [row(10, 1), depRow(11, 1)],
      new Map([[11, context]]),
    );
    const outcomes = await tasks.startMany([requestFor(row(10, 1)), requestFor(depRow(11, 1))]);
    expect(outcomes.map((o) => o.accepted)).toEqual([true, true]);
    expect(parentReads).toEqual([[10, 11]]);
    expect(cas).toHaveLength(1);
    await nextTurn();
    expect(launched.map((l) => [l.run.id, l.parents])).toEqual([
      [10, undefined],
      [11, context],
    ]);
  });

  it('refuses a dependency run LEDGER_DOWN, still pending, when its parents can not be read; the others start', async () => {
    const { tasks, launched, pending, cas, active } = setup(
      [job(1)],
      [row(10, 1), depRow(11, 1)],
      new Error('connection refused'),
    );
    const outcomes = await tasks.startMany([requestFor(row(10, 1)), requestFor(depRow(11, 1))]);
    expect(outcomes.map((o) => [o.runId, o.accepted, o.code, o.message])).toEqual([
      [10, true, '', ''],
      [11, false, 'LEDGER_DOWN', 'cannot read the parent runs of run 11: connection refused'],
    ]);
    expect(cas).toEqual([[row(10, 1)]]);
    expect(pending.has(11)).toBe(true);
    expect(active.has(11)).toBe(false);
    await nextTurn();
    expect(launched.map((l) => l.run.id)).toEqual([10]);
  });

  it('keeps a Cancel a cancel whatever its reason, and bounds the reason', () => {
    const { tasks, active } = setup([], []);
    const slot = active.reserve(3, 1);
    tasks.cancel(3, `lost: ${'x'.repeat(10_000)}`);
    expect(slot.stop?.kind).toBe('cancelled');
    expect(slot.stop?.message).toHaveLength(500);
  });
});

describe('TasksService.startMany: held for room when asked (wait_ms)', () => {
  /** An executor with every one of its 8 slots held by other runs (ids 100–107). */
  function full() {
    const runs = [row(10, 1), row(11, 1), row(12, 1)];
    const s = setup([job(1)], runs);
    for (let i = 0; i < 8; i++) s.active.reserve(100 + i, 1);
    return s;
  }

  it('answers AT_CAPACITY at once without wait_ms', async () => {
    const { tasks } = full();
    const started = Date.now();
    const [o] = await tasks.startMany([requestFor(row(10, 1))]);
    expect(o).toMatchObject({ accepted: false, code: 'AT_CAPACITY' });
    expect(Date.now() - started).toBeLessThan(200);
  });

  it('takes the runs as slots free within the wait, the oldest call first, one result flush waking one call', async () => {
    const { tasks, active, cas } = full();
    const first = tasks.startMany([requestFor(row(10, 1)), requestFor(row(11, 1))], 5000);
    const second = tasks.startMany([requestFor(row(12, 1))], 5000);
    await nextTurn();
    expect(cas).toEqual([]); // nothing fits yet
    active.release(100); // one slot: the first call takes run 10, and has nothing left for the second
    const held = await Promise.race([
      first.then(() => 'answered'),
      nextTurn()
        .then(nextTurn)
        .then(() => 'held'),
    ]);
    expect(held).toBe('held');
    active.release(101);
    active.release(102); // two at once: the first call takes run 11, leaves room, the second takes run 12
    expect((await first).map((o) => [o.runId, o.accepted])).toEqual([
      [10, true],
      [11, true],
    ]);
    expect((await second).map((o) => [o.runId, o.accepted])).toEqual([[12, true]]);
    expect(cas.map((keys) => keys.map((k) => k.id))).toEqual([[10], [11], [12]]);
  });

  it('answers AT_CAPACITY for what still does not fit when the wait ends, at most 1 s whatever is asked', async () => {
    const { tasks, active } = full();
    const started = Date.now();
    const answer = tasks.startMany([requestFor(row(10, 1)), requestFor(row(11, 1))], 60_000);
    await nextTurn();
    active.release(100);
    const outcomes = await answer;
    expect(outcomes.map((o) => [o.runId, o.accepted, o.code])).toEqual([
      [10, true, ''],
      [11, false, 'AT_CAPACITY'],
    ]);
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(900);
    expect(waited).toBeLessThan(5000);
  });

  it('takes slots freed while it was deciding at once: that freeing woke nobody, the call was out of the queue', async () => {
    const { tasks, active, batch } = full();
    const open = holdStarts(batch);
    const started = Date.now();
    const answer = tasks.startMany([requestFor(row(10, 1)), requestFor(row(11, 1))], 5000);
    await nextTurn();
    active.release(100); // wakes the call: it takes run 10 and is deciding it (the compare-and-set waits)
    await nextTurn();
    await nextTurn();
    active.release(101); // freed while the call is out of the queue
    open();
    const outcomes = await answer;
    expect(outcomes.map((o) => [o.runId, o.accepted])).toEqual([
      [10, true],
      [11, true],
    ]);
    expect(Date.now() - started).toBeLessThan(2500); // not at the wait's end (5 s)
  });

  it('is not held once its caller cancelled it, nor past its deadline', async () => {
    const { tasks, active } = full();
    const call = { cancelled: false, deadlineMs: Infinity };
    const cancelled = tasks.startMany([requestFor(row(10, 1))], 5000, call);
    await nextTurn();
    call.cancelled = true;
    active.release(100);
    expect((await cancelled).map((o) => [o.runId, o.code])).toEqual([[10, 'AT_CAPACITY']]);
    expect(active.size).toBe(7); // the freed slot was not taken for a caller that is gone

    active.reserve(200, 1); // full again
    const started = Date.now();
    // Its deadline is 150 ms away: it is answered 100 ms before it, not at the end of the 1 s it may be held.
    const late = tasks.startMany([requestFor(row(11, 1))], 5000, { cancelled: false, deadlineMs: started + 150 });
    expect((await late).map((o) => [o.runId, o.code])).toEqual([[11, 'AT_CAPACITY']]);
    expect(Date.now() - started).toBeLessThan(850);
  });

  it('passes on a wake it took when its caller is gone, to the next call waiting', async () => {
    const { tasks, active } = full();
    const call = { cancelled: false, deadlineMs: Infinity };
    const gone = tasks.startMany([requestFor(row(10, 1))], 5000, call);
    const next = tasks.startMany([requestFor(row(11, 1))], 5000);
    await nextTurn();
    call.cancelled = true;
    const started = Date.now();
    active.release(100); // wakes the first call, whose caller is gone: the second takes the slot
    expect((await gone).map((o) => [o.runId, o.code])).toEqual([[10, 'AT_CAPACITY']]);
    expect((await next).map((o) => [o.runId, o.accepted])).toEqual([[11, true]]);
    expect(Date.now() - started).toBeLessThan(2500); // not at the second call's wait end (5 s)
  });

  it('leaves slots freed while it decided to an older call waiting, rather than jump ahead of it', async () => {
    const { tasks, active, batch } = full();
    const older = tasks.startMany([requestFor(row(12, 1))], 5000);
    await nextTurn(); // waiting for room
    const open = holdStarts(batch);
    active.release(100);
    // A newer call takes the free slot for run 10 at once (it was free when it came), run 11 does not fit, and its
    // start is being recorded (held at the gate) when another slot frees.
    const newer = tasks.startMany([requestFor(row(10, 1)), requestFor(row(11, 1))], 300);
    await nextTurn();
    await nextTurn();
    active.release(101);
    open();
    // The older call, first in line, gets that slot; the newer one's run 11 finds none within its 300 ms.
    expect((await older).map((o) => [o.runId, o.accepted])).toEqual([[12, true]]);
    expect((await newer).map((o) => [o.runId, o.accepted, o.code])).toEqual([
      [10, true, ''],
      [11, false, 'AT_CAPACITY'],
    ]);
  });

  it('does not hold a call for anything but room: a refusal of another kind is answered at once', async () => {
    const { tasks } = full();
    const started = Date.now();
    const [invalid] = await tasks.startMany([requestFor(row(13, 1), { runId: -1 })], 5000);
    expect(invalid).toMatchObject({ accepted: false, code: 'INVALID' });
    expect(Date.now() - started).toBeLessThan(200);
  });
});
