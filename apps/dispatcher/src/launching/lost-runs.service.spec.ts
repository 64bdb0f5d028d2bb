import type { AppConfig } from '@app/config';
import type { JobEntity, JobsRepository, RunningRun, RunsRepository } from '@app/persistence';
import type { ExecutorPool } from '../executor-client/executor-pool.service';
import type { EventsService } from '../events/events.service';
import { LostRuns } from './lost-runs.service';

const running = (id: number, jobId: number): RunningRun => ({
  id,
  jobId,
  tickKey: String(id),
  attempt: 1,
  executorKey: '',
  scheduledAt: 0,
  executorId: 'gone-1',
  startedAt: 0,
  deadlineAt: 0,
});

describe('LostRuns', () => {
  it('marks every lost run of the pass when one of them can not be handled', async () => {
    const finished: { id: number; retries: number | null; error: string }[] = [];
    const runs = {
      findRunningOn: () => Promise.resolve([running(1, 10), running(2, 20), running(3, 30), running(4, 10)]),
      finishWithRetry: (run: RunningRun, r: { error: string }, policy: { retries: number } | null) => {
        if (run.id === 3) return Promise.reject(new Error('the ledger refused the row'));
        finished.push({ id: run.id, retries: policy?.retries ?? null, error: r.error });
        return Promise.resolve({ finished: true, retry: null });
      },
    } as unknown as RunsRepository;
    const jobs = {
      findById: (id: number) =>
        id === 20
          ? Promise.reject(new Error('Unexpected token } in JSON'))
          : Promise.resolve({ id, retries: 2, retryBackoffMs: 0, timeoutMs: 1000 } as JobEntity),
    } as unknown as JobsRepository;
    const pool = { executors: () => [], absenceIsFinal: true, listed: true, current: true } as unknown as ExecutorPool;
    const config = { etcd: { leaseTtlSeconds: 2 } } as AppConfig;
    const lost = new LostRuns(config, runs, jobs, pool, { runChanged: jest.fn() } as unknown as EventsService);

    await lost.find(0); // the executor is missing from now on
    // Never listed by this dispatcher: not lost after the TTL alone (it may not have been listed yet)...
    await lost.find(2000);
    expect(finished).toEqual([]);
    // ...but after the TTL and one discovery delay (3 s).
    await expect(lost.find(5000)).resolves.toBeUndefined();

    expect(finished.map((f) => [f.id, f.retries])).toEqual([
      [1, 2],
      // Its job can not be read: lost all the same (nothing else would end it), without the policy it can not read.
      [2, null],
      [4, 2],
    ]);
    expect(finished[1].error).toMatch(
      /vanished.*its job 20 could not be read for its retries \(Unexpected token \} in JSON\)/,
    );
  });

  it('marks nothing lost while its executor list is stale (the etcd watch disconnected or re-listing)', async () => {
    const finished: number[] = [];
    const runs = {
      findRunningOn: () =>
        Promise.resolve([{ id: 1, jobId: 10, executorId: 'exec-new', tickKey: 't', attempt: 1, executorKey: '' }]),
      finishWithRetry: (run: { id: number }) => {
        finished.push(run.id);
        return Promise.resolve({ finished: true, retry: null });
      },
    } as unknown as RunsRepository;
    const jobs = { findById: () => Promise.resolve(null) } as unknown as JobsRepository;
    // exec-new registered while this dispatcher's watch was down: its copy does not list it.
    const state = { current: false };
    const pool = {
      executors: () => (state.current ? [{ id: 'exec-new' }] : []),
      absenceIsFinal: true,
      listed: true,
      get current() {
        return state.current;
      },
    } as unknown as ExecutorPool;
    const config = { etcd: { leaseTtlSeconds: 2 } } as AppConfig;
    const lost = new LostRuns(config, runs, jobs, pool, { runChanged: jest.fn() } as unknown as EventsService);
    for (let t = 0; t <= 10_000; t += 1000) await lost.find(t);
    expect(finished).toEqual([]);
    // The watch is back and lists it: still nothing lost.
    state.current = true;
    await lost.find(11_000);
    expect(finished).toEqual([]);
  });
});
