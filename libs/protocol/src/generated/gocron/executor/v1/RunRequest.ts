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

/**
 * A run to start, named by its ledger key. The executor starts it only as the ledger holds it: the compare-and-set
 * pending -> running matches run_id, job_id, tick_key, attempt, executor_key and scheduled_at as stored (a run named
 * under another key is answered MISMATCH and stays pending), and it builds the task (type, command, env, HTTP
 * request, timeout, retries) from the job's row, which it reads itself; job_version says which version of the job the
 * run was offered for, so that the executor reads the row again when its copy is older.
 */
export interface RunRequest {
  runId?: number | string | Long;
  jobId?: number | string | Long;
  /**
   * ISO 8601 UTC
   */
  scheduledAt?: string;
  attempt?: number;
  /**
   * Ignored: the executor takes the job's timeout_ms. (Kept, with the task fields below, so that requests of older
   * dispatchers still decode; dispatchers no longer fill them.)
   * @deprecated
   */
  timeoutMs?: number | string | Long;
  dispatcherId?: string;
  /**
   * @deprecated
   */
  shell?: _gocron_executor_v1_ShellTask | null;
  /**
   * @deprecated
   */
  http?: _gocron_executor_v1_HttpTask | null;
  /**
   * Ignored: the executor takes the job's retry policy.
   * @deprecated
   */
  retry?: _gocron_executor_v1_RetryPolicy | null;
  /**
   * The run's ledger key, so the executor can record the result (and claim a retry) without reading the row; the
   * start's compare-and-set checks it against the row.
   */
  tickKey?: string;
  executorKey?: string;
  /**
   * The version of the job the run was offered for (JobEntity.version); 0 when unknown (the executor then reads the
   * job). Only a hint of freshness: what runs is always the job as the executor read it from the ledger.
   */
  jobVersion?: number;
  /**
   * Ignored: the executor builds the task from the job's row.
   */
  task?: 'shell' | 'http';
}

/**
 * A run to start, named by its ledger key. The executor starts it only as the ledger holds it: the compare-and-set
 * pending -> running matches run_id, job_id, tick_key, attempt, executor_key and scheduled_at as stored (a run named
 * under another key is answered MISMATCH and stays pending), and it builds the task (type, command, env, HTTP
 * request, timeout, retries) from the job's row, which it reads itself; job_version says which version of the job the
 * run was offered for, so that the executor reads the row again when its copy is older.
 */
export interface RunRequest__Output {
  runId: number;
  jobId: number;
  /**
   * ISO 8601 UTC
   */
  scheduledAt: string;
  attempt: number;
  /**
   * Ignored: the executor takes the job's timeout_ms. (Kept, with the task fields below, so that requests of older
   * dispatchers still decode; dispatchers no longer fill them.)
   * @deprecated
   */
  timeoutMs: number;
  dispatcherId: string;
  /**
   * @deprecated
   */
  shell?: _gocron_executor_v1_ShellTask__Output | null;
  /**
   * @deprecated
   */
  http?: _gocron_executor_v1_HttpTask__Output | null;
  /**
   * Ignored: the executor takes the job's retry policy.
   * @deprecated
   */
  retry: _gocron_executor_v1_RetryPolicy__Output | null;
  /**
   * The run's ledger key, so the executor can record the result (and claim a retry) without reading the row; the
   * start's compare-and-set checks it against the row.
   */
  tickKey: string;
  executorKey: string;
  /**
   * The version of the job the run was offered for (JobEntity.version); 0 when unknown (the executor then reads the
   * job). Only a hint of freshness: what runs is always the job as the executor read it from the ledger.
   */
  jobVersion: number;
  /**
   * Ignored: the executor builds the task from the job's row.
   */
  task?: 'shell' | 'http';
}
