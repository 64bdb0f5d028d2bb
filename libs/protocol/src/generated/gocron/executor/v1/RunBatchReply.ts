// Original file: proto/executor.proto

import type {
  RunOutcome as _gocron_executor_v1_RunOutcome,
  RunOutcome__Output as _gocron_executor_v1_RunOutcome__Output,
} from '../../../gocron/executor/v1/RunOutcome';

export interface RunBatchReply {
  outcomes?: _gocron_executor_v1_RunOutcome[];
  executorId?: string;
}

export interface RunBatchReply__Output {
  outcomes: _gocron_executor_v1_RunOutcome__Output[];
  executorId: string;
}
