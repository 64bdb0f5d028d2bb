// The ledger's vocabulary is the contract's (libs/contract). Re-exported under the names the server has always
// imported from @app/persistence, so a stored value and an API value can not mean different things.
export {
  ACTIVE_STATUSES,
  CONCURRENCY_POLICIES,
  FINAL_STATUSES,
  isFinal,
  JOB_TYPES,
  MISFIRE_POLICIES,
  OUTPUT_LIMIT_BYTES,
  RETRYABLE_STATUSES,
  ROUTINGS,
  RUN_STATUSES,
  RUN_TRIGGERS,
} from '@app/contract';
export type {
  ConcurrencyPolicy,
  HttpSpec,
  JobType,
  MisfirePolicy,
  Routing,
  RunStatus,
  RunTrigger,
} from '@app/contract';
