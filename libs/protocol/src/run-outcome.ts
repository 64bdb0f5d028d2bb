import type { RunOutcome__Output } from './generated/gocron/executor/v1/RunOutcome';

/**
 * Why an executor did not take a run; each maps to the gRPC status `Run` answers with. WRONG_GROUP: the job is of
 * another group than the executor's; MISMATCH: the ledger holds the run under another job, tick, attempt or instant
 * than the request names; JOB_GONE: the job does not exist (deleted). None of the three moves the run out of pending.
 */
export type RunRefusal =
  'AT_CAPACITY' | 'DRAINING' | 'NOT_PENDING' | 'INVALID' | 'LEDGER_DOWN' | 'WRONG_GROUP' | 'MISMATCH' | 'JOB_GONE';

/**
 * An executor's answer to one run offered in a RunBatch, as the executor builds it. The proto's `code` is a plain
 * string, and a dispatcher reads it as one (`RunBatchReply.outcomes`); the executor only ever puts a RunRefusal there.
 */
export interface RunOutcome extends Omit<RunOutcome__Output, 'code'> {
  /** Empty when accepted. */
  code: RunRefusal | '';
}
