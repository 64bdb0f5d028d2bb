import type { JobEntity, JobsRepository, RunEntity, RunsRepository } from '@app/persistence';
import type { ExecutorPool } from '../executor-client/executor-pool.service';
import type { EventsService } from '../events/events.service';
import { PendingRuns } from './pending-runs.service';
import type { RunCanceller } from './run-canceller.service';
import type { RunLauncher } from './run-launcher.service';

const expired = (id: number, jobId: number) =>
  ({ id, jobId, tickKey: String(id), attempt: 1, executorKey: '', scheduledAt: 0, deadlineAt: 1000 }) as RunEntity;

describe('PendingRuns.expire', () => {
  it('fails every expired run of the pass when one of them can not be handled', async () => {
    const failed: { id: number; error: string }[] = [];
    const runs = {
      findExpiredPending: () => Promise.resolve([expired(1, 10), expired(2, 20), expired(3, 30)]),
      finishWithRetry: (run: RunEntity, r: { error: string }) => {
        if (run.id === 2) return Promise.reject(new Error('the ledger refused the row'));
        failed.push({ id: run.id, error: r.error });
        return Promise.resolve({ finished: true, retry: null });
      },
    } as unknown as RunsRepository;
    const jobs = {
      findById: (id: number) =>
        id === 10 ? Promise.reject(new Error('bad row')) : Promise.resolve({ id, group: 'g' } as JobEntity),
    } as unknown as JobsRepository;
    const pending = new PendingRuns(
      runs,
      jobs,
      {} as RunLauncher,
      {} as RunCanceller,
      { runChanged: jest.fn() } as unknown as EventsService,
      {} as ExecutorPool,
    );

    await expect(pending.expire(5000)).resolves.toBeUndefined();

    expect(failed.map((f) => f.id)).toEqual([1, 3]);
    expect(failed[0].error).toMatch(/no executor of group '\?' took the run before its deadline/);
    expect(failed[1].error).toMatch(/no executor of group 'g' took the run/);
  });
});
