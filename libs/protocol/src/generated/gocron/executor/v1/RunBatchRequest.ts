// Original file: proto/executor.proto

import type {
  RunRequest as _gocron_executor_v1_RunRequest,
  RunRequest__Output as _gocron_executor_v1_RunRequest__Output,
} from '../../../gocron/executor/v1/RunRequest';

export interface RunBatchRequest {
  runs?: _gocron_executor_v1_RunRequest[];
}

export interface RunBatchRequest__Output {
  runs: _gocron_executor_v1_RunRequest__Output[];
}
