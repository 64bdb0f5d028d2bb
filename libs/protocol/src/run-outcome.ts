import type { RunOutcome__Output } from './generated/gocron/executor/v1/RunOutcome';

/** Why an executor did not take a run; each maps to the gRPC status `Run` answers with. */
export type RunRefusal = 'AT_CAPACITY' | 'DRAINING' | 'NOT_PENDING' | 'INVALID' | 'LEDGER_DOWN';

/**
 * An executor's answer to one run offered in a RunBatch, as the executor builds it. The proto's `code` is a plain
 * string, and a dispatcher reads it as one (`RunBatchReply.outcomes`); the executor only ever puts a RunRefusal there.
 */
export interface RunOutcome extends Omit<RunOutcome__Output, 'code'> {
  /** Empty when accepted. */
  code: RunRefusal | '';
}
