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
    const pool = { executors: () => [], absenceIsFinal: true, listed: true } as unknown as ExecutorPool;
    const config = { etcd: { leaseTtlSeconds: 2 } } as AppConfig;
    const lost = new LostRuns(config, runs, jobs, pool, { runChanged: jest.fn() } as unknown as EventsService);

    await lost.find(0); // the executor is missing from now on
    await expect(lost.find(2000)).resolves.toBeUndefined();

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
});
