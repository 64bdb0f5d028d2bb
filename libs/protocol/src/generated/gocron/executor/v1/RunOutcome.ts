// Original file: proto/executor.proto

import type { Long } from '@grpc/proto-loader';

export interface RunOutcome {
  runId?: number | string | Long;
  accepted?: boolean;
  /**
   * Empty when accepted; otherwise AT_CAPACITY, DRAINING, NOT_PENDING, INVALID or LEDGER_DOWN (the codes Run maps
   * to RESOURCE_EXHAUSTED, UNAVAILABLE, FAILED_PRECONDITION, INVALID_ARGUMENT and UNAVAILABLE).
   */
  code?: string;
  message?: string;
}

export interface RunOutcome__Output {
  runId: number;
  accepted: boolean;
  /**
   * Empty when accepted; otherwise AT_CAPACITY, DRAINING, NOT_PENDING, INVALID or LEDGER_DOWN (the codes Run maps
   * to RESOURCE_EXHAUSTED, UNAVAILABLE, FAILED_PRECONDITION, INVALID_ARGUMENT and UNAVAILABLE).
   */
  code: string;
  message: string;
}
