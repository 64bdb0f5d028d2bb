import { SecretOpener } from './secret-opener';
import type { AppConfig } from '@app/config';
import type { JobEntity, RunBatchRepository, RunResult, RunsRepository } from '@app/persistence';
import { ActiveRuns, StopReason } from './active-runs';
import type { JobCache } from './job-cache';
import type { LedgerWatch } from './ledger-watch.service';
import type { Presence } from './presence.service';
import type { ParentContexts } from './parent-contexts';
import type { DispatcherEndpoints } from './dispatcher-endpoints';
import { TaskLauncher } from './task-launcher';
import { TasksService } from './tasks.service';

const config = {
  executor: { id: 'e1', capacity: 4, advertise: '127.0.0.1:1', httpAllow: [], httpDeny: [] },
} as unknown as AppConfig;
const noDispatchers = { list: () => [] } as unknown as DispatcherEndpoints;

const job = { id: 1, type: 'shell', command: 'true', env: {}, timeoutMs: 1000, retries: 0, retryBackoffMs: 0 };
const launch = (runId: number) => ({
  run: { id: runId, jobId: 1, tickKey: String(runId), attempt: 1, executorKey: '', scheduledAt: Date.UTC(2026, 0, 1) },
  job: job as JobEntity,
  task: { type: 'shell' as const, command: 'true', env: {} },
});

/** The status the launcher records for a run stopped before its launch, with the given reason. */
async function recordedFor(reason: StopReason): Promise<RunResult> {
  const active = new ActiveRuns();
  let resolve!: (r: RunResult) => void;
  const written = new Promise<RunResult>((r) => (resolve = r));
  const batch = {
    finishMany: (rows: { id: number; result: RunResult }[]) => {
      resolve(rows[0].result);
      return Promise.resolve(new Set(rows.map((r) => r.id)));
    },
  } as unknown as RunBatchRepository;
  const launcher = new TaskLauncher(config, {} as RunsRepository, batch, active, noDispatchers);
  const slot = active.reserve(7, 1);
  active.stop(slot, reason);
  launcher.launchPaced([{ ...launch(7), slot }]);
  return written;
}

describe('why a run stops decides its status, and only the executor decides lost', () => {
  it('a Cancel whose reason looks like a lost marker is still a cancel', () => {
    const active = new ActiveRuns();
    const tasks = new TasksService(
      config,
      {} as RunBatchRepository,
      {} as JobCache,
      active,
      {} as TaskLauncher,
      {} as Presence,
      {} as LedgerWatch,
      {} as SecretOpener,
      {} as ParentContexts,
    );
    const slot = active.reserve(3, 1);
    tasks.cancel(3, 'lost: executor e1 vanished');
    expect(slot.stop).toEqual({ kind: 'cancelled', message: 'lost: executor e1 vanished' });
  });

  it('records cancelled for a cancel, whatever its text, and lost only for the executor’s own lost reason', async () => {
    expect(await recordedFor({ kind: 'cancelled', message: 'lost: spoofed' })).toMatchObject({
      status: 'cancelled',
      error: 'lost: spoofed',
    });
    expect(await recordedFor({ kind: 'lost', message: 'executor e1 lost its discovery lease' })).toMatchObject({
      status: 'lost',
      error: 'executor e1 lost its discovery lease',
    });
  });

  it('keeps the first reason: a later stop does not turn a cancel into a loss', () => {
    const active = new ActiveRuns();
    const slot = active.reserve(1, 1);
    active.stop(slot, { kind: 'cancelled', message: 'cancelled by request' });
    active.stopAll({ kind: 'lost', message: 'drain timeout' });
    expect(slot.stop?.kind).toBe('cancelled');
  });
});
