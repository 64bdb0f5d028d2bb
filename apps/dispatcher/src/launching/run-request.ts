import { jobTaskOf } from '@app/persistence';
import type { JobEntity, LedgerKey } from '@app/persistence';
import type { RunRequest } from '@app/protocol';

/**
 * A job that can not be turned into a request: stored as no API call would store it (an http job without its
 * request, a type nobody knows). Its runs fail with the reason instead of being offered.
 */
export class UnofferableJobError extends Error {}

/**
 * What the executor is sent for a run: the run's ledger key and the version of the job it is offered for. Nothing
 * runnable: the executor reads the job's task, timeout and retries from the ledger itself (the proto's task fields
 * stay for older dispatchers, and are ignored). A job whose row holds no task is refused here, with the reason the
 * executor would give.
 */
export function runRequestOf(run: LedgerKey, job: JobEntity, dispatcherId: string): RunRequest {
  const built = jobTaskOf(job);
  if ('problem' in built) throw new UnofferableJobError(built.problem);
  return {
    runId: run.id,
    jobId: job.id,
    jobVersion: job.version,
    scheduledAt: new Date(run.scheduledAt).toISOString(),
    attempt: run.attempt,
    timeoutMs: 0,
    dispatcherId,
    retry: null,
    tickKey: run.tickKey,
    executorKey: run.executorKey,
  };
}

/**
 * An upper bound of a request's encoded size, to keep a RunBatch call below the executor's 4 MiB message limit
 * (grpc-js's default receive limit): ≈ 150 bytes plus its strings, at most 3 UTF-8 bytes per UTF-16 unit.
 */
export function requestBytes(req: RunRequest): number {
  return 150 + 3 * (req.dispatcherId.length + req.tickKey.length + req.executorKey.length + req.scheduledAt.length);
}
