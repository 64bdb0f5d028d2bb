import type { RunRequest } from '@app/protocol';

/** Checks a RunRequest from the wire; returns every problem, each naming its field. */
export function runRequestProblems(req: RunRequest): string[] {
  const problems: string[] = [];
  if (!Number.isSafeInteger(req.runId) || req.runId <= 0) problems.push('run_id: must be a positive integer');
  if (!Number.isSafeInteger(req.jobId) || req.jobId <= 0) problems.push('job_id: must be a positive integer');
  if (!Number.isSafeInteger(req.attempt) || req.attempt <= 0) problems.push('attempt: must be a positive integer');
  if (!Number.isSafeInteger(req.timeoutMs) || req.timeoutMs <= 0 || req.timeoutMs > 86_400_000) {
    problems.push('timeout_ms: must be 1..86400000');
  }
  if (Number.isNaN(Date.parse(req.scheduledAt))) problems.push('scheduled_at: must be an ISO 8601 instant');
  if (req.task === 'shell') {
    if (!req.shell?.command) problems.push('shell.command: must not be empty');
  } else if (req.task === 'http') {
    if (!req.http?.method) problems.push('http.method: must not be empty');
    try {
      const url = new URL(req.http?.url ?? '');
      if (url.protocol !== 'http:' && url.protocol !== 'https:') problems.push('http.url: must be http or https');
    } catch {
      problems.push('http.url: must be an absolute URL');
    }
  } else {
    problems.push('task: one of shell or http is required');
  }
  return problems;
}
