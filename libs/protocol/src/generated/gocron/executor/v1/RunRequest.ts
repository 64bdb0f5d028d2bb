// Original file: proto/executor.proto

import type {
  ShellTask as _gocron_executor_v1_ShellTask,
  ShellTask__Output as _gocron_executor_v1_ShellTask__Output,
} from '../../../gocron/executor/v1/ShellTask';
import type {
  HttpTask as _gocron_executor_v1_HttpTask,
  HttpTask__Output as _gocron_executor_v1_HttpTask__Output,
} from '../../../gocron/executor/v1/HttpTask';
import type {
  RetryPolicy as _gocron_executor_v1_RetryPolicy,
  RetryPolicy__Output as _gocron_executor_v1_RetryPolicy__Output,
} from '../../../gocron/executor/v1/RetryPolicy';
import type { Long } from '@grpc/proto-loader';

export interface RunRequest {
  runId?: number | string | Long;
  jobId?: number | string | Long;
  /**
   * ISO 8601 UTC
   */
  scheduledAt?: string;
  attempt?: number;
  timeoutMs?: number | string | Long;
  dispatcherId?: string;
  shell?: _gocron_executor_v1_ShellTask | null;
  http?: _gocron_executor_v1_HttpTask | null;
  retry?: _gocron_executor_v1_RetryPolicy | null;
  /**
   * The run's ledger key, so the executor can record the result (and claim a retry) without reading the row.
   */
  tickKey?: string;
  executorKey?: string;
  task?: 'shell' | 'http';
}

export interface RunRequest__Output {
  runId: number;
  jobId: number;
  /**
   * ISO 8601 UTC
   */
  scheduledAt: string;
  attempt: number;
  timeoutMs: number;
  dispatcherId: string;
  shell?: _gocron_executor_v1_ShellTask__Output | null;
  http?: _gocron_executor_v1_HttpTask__Output | null;
  retry: _gocron_executor_v1_RetryPolicy__Output | null;
  /**
   * The run's ledger key, so the executor can record the result (and claim a retry) without reading the row.
   */
  tickKey: string;
  executorKey: string;
  task?: 'shell' | 'http';
}
