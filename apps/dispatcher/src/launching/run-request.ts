import { httpSpecWithDefaults } from '@app/contract';
import type { JobEntity, LedgerKey } from '@app/persistence';
import type { RunRequest } from '@app/protocol';

/**
 * A job that can not be turned into a request: stored as no API call would store it (an http job without its
 * request, a type nobody knows). Its runs fail with the reason instead of being offered.
 */
export class UnofferableJobError extends Error {}

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
  switch (job.type) {
    case 'shell':
      return { ...base, shell: { command: job.command ?? '', env: stringMap(job, 'env', job.env) } };
    case 'http': {
      if (typeof job.http?.url !== 'string' || typeof job.http.method !== 'string') {
        throw new UnofferableJobError(`job ${job.id} is an http job without its http request (method and url)`);
      }
      const http = httpSpecWithDefaults(job.http);
      return { ...base, http: { ...http, headers: stringMap(job, 'http.headers', http.headers) } };
    }
    default:
      throw new UnofferableJobError(`job ${job.id} has an unknown type '${String(job.type)}'`);
  }
}

/** A map of strings as stored (null: none); anything else is named. */
function stringMap(job: JobEntity, field: string, map: Record<string, string> | null): Record<string, string> {
  if (map === null || map === undefined) return {};
  if (typeof map !== 'object' || Array.isArray(map)) {
    throw new UnofferableJobError(`job ${job.id}'s ${field} is not a map of strings`);
  }
  for (const [k, v] of Object.entries(map)) {
    if (typeof v !== 'string') throw new UnofferableJobError(`job ${job.id}'s ${field}.${k} is not a string`);
  }
  return map;
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
