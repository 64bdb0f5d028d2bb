// The contract's enumerations (CONTRACT.md, Job and Run). The server validates and stores them, the dashboard
// offers them in its forms and filters: one list each, so a new value reaches both.
export const JOB_TYPES = ['shell', 'http'] as const;
export type JobType = (typeof JOB_TYPES)[number];

export const CONCURRENCY_POLICIES = ['allow', 'forbid', 'replace'] as const;
export type ConcurrencyPolicy = (typeof CONCURRENCY_POLICIES)[number];

export const MISFIRE_POLICIES = ['skip', 'once', 'all'] as const;
export type MisfirePolicy = (typeof MISFIRE_POLICIES)[number];

export const ROUTINGS = ['round_robin', 'random', 'least_busy', 'consistent_hash', 'broadcast'] as const;
export type Routing = (typeof ROUTINGS)[number];

export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

export const RUN_TRIGGERS = ['schedule', 'manual', 'retry', 'misfire', 'dependency'] as const;
export type RunTrigger = (typeof RUN_TRIGGERS)[number];

export const RUN_STATUSES = [
  'pending',
  'running',
  'succeeded',
  'failed',
  'timed_out',
  'cancelled',
  'lost',
  'skipped',
  'missed',
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const ACTIVE_STATUSES: readonly RunStatus[] = ['pending', 'running'];
export const FINAL_STATUSES: readonly RunStatus[] = RUN_STATUSES.filter((s) => !ACTIVE_STATUSES.includes(s));
/** Final statuses after which the job's `retries` apply. */
export const RETRYABLE_STATUSES: readonly RunStatus[] = ['failed', 'timed_out', 'lost'];

export function isFinal(status: RunStatus): boolean {
  return FINAL_STATUSES.includes(status);
}

export function isActive(status: RunStatus): boolean {
  return ACTIVE_STATUSES.includes(status);
}

/** Output of one run keeps at most this much (head and tail). */
export const OUTPUT_LIMIT_BYTES = 64 * 1024;

/** What a notification can be about (CONTRACT.md, Retention and notifications); `succeeded` only when asked for. */
export const NOTIFY_EVENTS = ['failed', 'timed_out', 'lost', 'missed', 'recovered', 'succeeded'] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

/** Where a notification goes: a JSON webhook, a Slack-compatible incoming webhook, email over SMTP. */
export const NOTIFY_CHANNELS = ['webhook', 'slack', 'email'] as const;
export type NotifyChannel = (typeof NOTIFY_CHANNELS)[number];

/** A delivery's state in the outbox: waiting (or retrying), delivered (itself or folded into another), given up. */
export const NOTIFICATION_STATUSES = ['pending', 'sent', 'failed'] as const;
export type NotificationStatus = (typeof NOTIFICATION_STATUSES)[number];

/**
 * When a parent's finished run starts its child (CONTRACT.md, dependencies): `success` on `succeeded`; `failure` on
 * `failed`, `timed_out` or `lost` of the final attempt; `always` on either. `skipped`, `missed` and `cancelled` start
 * nothing.
 */
export const DEPENDENCY_CONDITIONS = ['success', 'failure', 'always'] as const;
export type DependencyCondition = (typeof DEPENDENCY_CONDITIONS)[number];

/** `all`: once every parent has a satisfying run of the same occasion; `any`: once per satisfying parent run. */
export const DEPENDENCY_MODES = ['any', 'all'] as const;
export type DependencyMode = (typeof DEPENDENCY_MODES)[number];

/** A job names at most this many parents; a chain is at most this deep. */
export const MAX_PARENTS = 100;
export const MAX_DEPENDENCY_DEPTH = 1000;
/** `all` with parents on different schedules: their runs within this of each other make one occasion. */
export const DEFAULT_DEPENDENCY_WINDOW_MS = 3_600_000;
/** A child's environment carries at most this much of the tail of each parent's output. */
export const PARENT_OUTPUT_TAIL_BYTES = 4096;
