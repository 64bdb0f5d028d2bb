import { RETRYABLE_STATUSES, RunStatus } from './domain';
import type { JobEntity } from './entities/job.entity';
import type { RetryPolicy } from './repositories/runs.repository';

/**
 * The retry policy of a job, or of a run request that carries the job's: `retries` more attempts, the first
 * after `retryBackoffMs`, doubling each time, each with the job's `timeoutMs` to be taken.
 */
export function retryPolicyOf(source: { retries: number; retryBackoffMs: number; timeoutMs: number }): RetryPolicy {
  return { retries: source.retries, retryBackoffMs: source.retryBackoffMs, timeoutMs: source.timeoutMs };
}

/**
 * Whether `run` is its tick's final attempt: no next attempt exists and none is owed. A retry is owed (see
 * RunsRepository.finishWithRetry and RetryRepair) to a run that ended retryable after it had started, with attempts
 * left under its job's policy, while the job has not changed since (a changed job's policy is not known any more,
 * and the repair leaves such runs alone).
 */
export function isFinalAttempt(
  run: { hasNext: boolean; status: RunStatus; startedAt: number | null; attempt: number; updatedAt: number },
  job: Pick<JobEntity, 'retries' | 'updatedAt'>,
): boolean {
  if (run.hasNext) return false;
  if (!RETRYABLE_STATUSES.includes(run.status)) return true;
  return run.startedAt === null || run.attempt > job.retries || job.updatedAt > run.updatedAt;
}
