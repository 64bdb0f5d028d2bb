import type { RunEntity } from '../entities/run.entity';
import type { ColumnNamesOf } from './columns';

/** The runs table for raw SQL: each RunEntity property's column. */
export const RUN_COLUMNS = {
  id: 'id',
  jobId: 'job_id',
  tickKey: 'tick_key',
  attempt: 'attempt',
  executorKey: 'executor_key',
  scheduledAt: 'scheduled_at',
  trigger: 'trigger',
  status: 'status',
  notBefore: 'not_before',
  deadlineAt: 'deadline_at',
  executorId: 'executor_id',
  executorAddress: 'executor_address',
  dispatcherId: 'dispatcher_id',
  startedAt: 'started_at',
  finishedAt: 'finished_at',
  durationMs: 'duration_ms',
  exitCode: 'exit_code',
  httpStatus: 'http_status',
  output: 'output',
  outputTruncated: 'output_truncated',
  error: 'error',
  skippedCount: 'skipped_count',
  skippedFrom: 'skipped_from',
  queuedAt: 'queued_at',
  createdAt: 'created_at',
  updatedAt: 'updated_at',
} as const satisfies ColumnNamesOf<RunEntity>;

/** A run's ledger key as raw SQL answers it (MySQL answers BIGINT columns as strings, per the pool's options). */
export interface LedgerKeyRow {
  id: number | string;
  job_id: number | string;
  tick_key: string;
  attempt: number | string;
  executor_key: string;
  scheduled_at: number | string;
}

export function ledgerKeyOfRow(
  r: LedgerKeyRow,
): Pick<RunEntity, 'id' | 'jobId' | 'tickKey' | 'attempt' | 'executorKey' | 'scheduledAt'> {
  return {
    id: Number(r.id),
    jobId: Number(r.job_id),
    tickKey: r.tick_key,
    attempt: Number(r.attempt),
    executorKey: r.executor_key,
    scheduledAt: Number(r.scheduled_at),
  };
}
