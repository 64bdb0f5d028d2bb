import type { FollowOutputRequest, RunRequest } from '@app/protocol';

/**
 * Checks a RunRequest from the wire; returns every problem, each naming its field. Only the run's ledger key and the
 * job's version are read: the task fields, timeout and retry policy of a request are ignored (the executor takes them
 * from the job's row).
 */
export function runRequestProblems(req: RunRequest): string[] {
  const problems: string[] = [];
  if (!Number.isSafeInteger(req.runId) || req.runId <= 0) problems.push('run_id: must be a positive integer');
  if (!Number.isSafeInteger(req.jobId) || req.jobId <= 0) problems.push('job_id: must be a positive integer');
  if (!Number.isSafeInteger(req.attempt) || req.attempt <= 0) problems.push('attempt: must be a positive integer');
  if (Number.isNaN(Date.parse(req.scheduledAt))) problems.push('scheduled_at: must be an ISO 8601 instant');
  if (!req.tickKey) problems.push('tick_key: must not be empty');
  if (!Number.isSafeInteger(req.jobVersion) || req.jobVersion < 0) {
    problems.push('job_version: must be a non-negative integer');
  }
  return problems;
}

/** Checks a FollowOutputRequest from the wire; returns every problem, each naming its field. */
export function followRequestProblems(req: FollowOutputRequest): string[] {
  const problems: string[] = [];
  if (!Number.isSafeInteger(req.runId) || req.runId <= 0) problems.push('run_id: must be a positive integer');
  if (!Number.isSafeInteger(req.offset) || req.offset < 0) problems.push('offset: must be a non-negative integer');
  return problems;
}
