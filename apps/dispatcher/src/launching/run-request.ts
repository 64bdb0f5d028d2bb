import { httpSpecWithDefaults } from '@app/contract';
import type { JobEntity, LedgerKey } from '@app/persistence';
import type { RunRequest } from '@app/protocol';

/** What the executor is sent for a run: the run's ledger key and its job's task, timeout and retry policy. */
export function runRequestOf(run: LedgerKey, job: JobEntity, dispatcherId: string): RunRequest {
  const base = {
    runId: run.id,
    jobId: job.id,
    scheduledAt: new Date(run.scheduledAt).toISOString(),
    attempt: run.attempt,
    timeoutMs: job.timeoutMs,
    dispatcherId,
    retry: { retries: job.retries, retryBackoffMs: job.retryBackoffMs },
    tickKey: run.tickKey,
    executorKey: run.executorKey,
  };
  return job.type === 'shell'
    ? { ...base, shell: { command: job.command ?? '', env: job.env ?? {} } }
    : { ...base, http: httpSpecWithDefaults(job.http!) };
}

/**
 * An upper bound of a request's encoded size, to keep a RunBatch call below the executor's 4 MiB message limit
 * (grpc-js's default receive limit): ≈ 150 bytes plus its strings, at most 3 UTF-8 bytes per UTF-16 unit.
 */
export function requestBytes(req: RunRequest): number {
  let n = 150 + req.dispatcherId.length + req.tickKey.length + req.executorKey.length;
  const strings = req.shell
    ? [req.shell.command, ...Object.entries(req.shell.env).flat()]
    : req.http
      ? [req.http.url, req.http.body, req.http.method, ...Object.entries(req.http.headers).flat()]
      : [];
  for (const s of strings) n += 3 * s.length + 4;
  return n;
}
