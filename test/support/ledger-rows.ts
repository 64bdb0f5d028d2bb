import type { NewJob, NewRun } from '@app/persistence';

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

/** A shell job (`true`, yearly, 10 min timeout) of `group` whose schedule was set at `at`, for ledger-level tests. */
export function shellJob(name: string, group: string, at: number, over: Partial<NewJob> = {}): NewJob {
  return {
    name,
    description: '',
    cron: '0 0 1 1 *',
    timezone: 'UTC',
    type: 'shell',
    command: 'true',
    env: {},
    http: null,
    timeoutMs: 600_000,
    retries: 0,
    retryBackoffMs: 1000,
    concurrency: 'allow',
    misfire: 'skip',
    group,
    routing: 'round_robin',
    enabled: true,
    scheduleSetAt: at,
    lastTickAt: 0,
    nextRunAt: null,
    ...over,
  };
}
