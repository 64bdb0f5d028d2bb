import type { NewRun } from '@app/persistence';

/** A first-attempt scheduled run of `jobId`'s tick at `at`, pending, as the claim pipeline writes one. */
export function pendingRun(jobId: number, tickKey: string, at: number, over: Partial<NewRun> = {}): NewRun {
  return {
    jobId,
    tickKey,
    attempt: 1,
    scheduledAt: at,
    trigger: 'schedule',
    status: 'pending',
    notBefore: at,
    deadlineAt: at + 60_000,
    dispatcherId: 'd1',
    ...over,
  };
}
