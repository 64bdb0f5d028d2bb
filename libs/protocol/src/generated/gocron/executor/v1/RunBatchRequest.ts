// Original file: proto/executor.proto

import type {
  RunRequest as _gocron_executor_v1_RunRequest,
  RunRequest__Output as _gocron_executor_v1_RunRequest__Output,
} from '../../../gocron/executor/v1/RunRequest';

export interface RunBatchRequest {
  runs?: _gocron_executor_v1_RunRequest[];
  /**
   * How long the executor may hold the call for room when it is at capacity (0: answer at once, AT_CAPACITY for the
   * runs that do not fit). Runs taken while it waits are answered as accepted; those still without room when the wait
   * ends are AT_CAPACITY. At most 1,000 ms is waited, whatever is asked. A dispatcher asks for it only from an
   * executor that is the last one it can offer those runs to (one with room elsewhere is not kept waiting here).
   */
  waitMs?: number;
}

export interface RunBatchRequest__Output {
  runs: _gocron_executor_v1_RunRequest__Output[];
  /**
   * How long the executor may hold the call for room when it is at capacity (0: answer at once, AT_CAPACITY for the
   * runs that do not fit). Runs taken while it waits are answered as accepted; those still without room when the wait
   * ends are AT_CAPACITY. At most 1,000 ms is waited, whatever is asked. A dispatcher asks for it only from an
   * executor that is the last one it can offer those runs to (one with room elsewhere is not kept waiting here).
   */
  waitMs: number;
}
