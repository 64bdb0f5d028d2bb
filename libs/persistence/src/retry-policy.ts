import type { RetryPolicy } from './repositories/runs.repository';

/**
 * The retry policy of a job, or of a run request that carries the job's: `retries` more attempts, the first
 * after `retryBackoffMs`, doubling each time, each with the job's `timeoutMs` to be taken.
 */
export function retryPolicyOf(source: { retries: number; retryBackoffMs: number; timeoutMs: number }): RetryPolicy {
  return { retries: source.retries, retryBackoffMs: source.retryBackoffMs, timeoutMs: source.timeoutMs };
}
