// The ledger's vocabulary is the contract's (libs/contract). Re-exported under the names the server has always
// imported from @app/persistence, so a stored value and an API value can not mean different things.
export {
  ACTIVE_STATUSES,
  CONCURRENCY_POLICIES,
  DEFAULT_DEPENDENCY_WINDOW_MS,
  DEPENDENCY_CONDITIONS,
  DEPENDENCY_MODES,
  MAX_DEPENDENCY_DEPTH,
  FINAL_STATUSES,
  isFinal,
  JOB_TYPES,
  MISFIRE_POLICIES,
  NOTIFICATION_STATUSES,
  NOTIFY_CHANNELS,
  NOTIFY_EVENTS,
  OUTPUT_LIMIT_BYTES,
  RETRYABLE_STATUSES,
  ROUTINGS,
  RUN_STATUSES,
  RUN_TRIGGERS,
} from '@app/contract';
export type {
  ConcurrencyPolicy,
  DependencyCondition,
  DependencyMode,
  HttpSpec,
  JobType,
  MisfirePolicy,
  NotificationStatus,
  NotifyChannel,
  NotifyEvent,
  Routing,
  RunStatus,
  RunTrigger,
} from '@app/contract';

/** A job's `notify` as stored (the URLs in clear: the API masks them); null on the job: the `[notify]` defaults. */
export type { JobNotifyJson as JobNotify } from '@app/contract';
