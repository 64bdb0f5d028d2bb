// Original file: proto/executor.proto

import type { Long } from '@grpc/proto-loader';

export interface RunOutcome {
  runId?: number | string | Long;
  accepted?: boolean;
  /**
   * Empty when accepted; otherwise AT_CAPACITY, DRAINING, NOT_PENDING, INVALID, LEDGER_DOWN, WRONG_GROUP (the job is
   * of another group than this executor's), MISMATCH (the run is not the named job's, or not under the named tick,
   * attempt or instant) or JOB_GONE (no such job): the codes Run maps to RESOURCE_EXHAUSTED, UNAVAILABLE,
   * FAILED_PRECONDITION, INVALID_ARGUMENT, UNAVAILABLE, PERMISSION_DENIED, FAILED_PRECONDITION and NOT_FOUND.
   */
  code?: string;
  message?: string;
}

export interface RunOutcome__Output {
  runId: number;
  accepted: boolean;
  /**
   * Empty when accepted; otherwise AT_CAPACITY, DRAINING, NOT_PENDING, INVALID, LEDGER_DOWN, WRONG_GROUP (the job is
   * of another group than this executor's), MISMATCH (the run is not the named job's, or not under the named tick,
   * attempt or instant) or JOB_GONE (no such job): the codes Run maps to RESOURCE_EXHAUSTED, UNAVAILABLE,
   * FAILED_PRECONDITION, INVALID_ARGUMENT, UNAVAILABLE, PERMISSION_DENIED, FAILED_PRECONDITION and NOT_FOUND.
   */
  code: string;
  message: string;
}
