import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type { RunStatus, RunTrigger } from '../domain';
import { epochMs, int64 } from './ms-transformer';

/**
 * The run ledger. A tick becomes a run only by inserting its row; the unique key (every column NOT NULL, since a
 * unique index ignores NULLs) makes a second writer of the same tick fail instead of doubling the run.
 */
@Entity({ name: 'runs' })
@Index('uq_runs_tick', ['jobId', 'tickKey', 'attempt', 'executorKey'], { unique: true })
@Index('ix_runs_job', ['jobId', 'id'])
@Index('ix_runs_status', ['status', 'id'])
@Index('ix_runs_updated', ['updatedAt', 'id'])
@Index('ix_runs_job_sched', ['jobId', 'scheduledAt'])
@Index('ix_runs_job_status', ['jobId', 'status'])
export class RunEntity {
  @PrimaryColumn({ type: 'bigint', generated: 'increment', transformer: int64 })
  id!: number;

  @Column({ name: 'job_id', type: 'bigint', transformer: int64 })
  jobId!: number;

  /** From scheduledAt for scheduled and misfire runs, unique per manual trigger, the parent's for a dependency. */
  @Column({ name: 'tick_key', type: 'varchar', length: 64 })
  tickKey!: string;

  @Column({ type: 'int' })
  attempt!: number;

  /** Empty except with `broadcast` routing, where each executor's run is its own row. */
  @Column({ name: 'executor_key', type: 'varchar', length: 128, default: '' })
  executorKey!: string;

  @Column({ name: 'scheduled_at', type: 'bigint', transformer: epochMs })
  scheduledAt!: number;

  @Column({ type: 'varchar', length: 16 })
  trigger!: RunTrigger;

  @Column({ type: 'varchar', length: 16 })
  status!: RunStatus;

  /** A pending run is not offered before this instant (retry back-off). */
  @Column({ name: 'not_before', type: 'bigint', transformer: epochMs })
  notBefore!: number;

  /** A pending run that no executor took by this instant fails. */
  @Column({ name: 'deadline_at', type: 'bigint', transformer: epochMs })
  deadlineAt!: number;

  @Column({ name: 'executor_id', type: 'varchar', length: 128, nullable: true })
  executorId!: string | null;

  @Column({ name: 'executor_address', type: 'varchar', length: 255, nullable: true })
  executorAddress!: string | null;

  @Column({ name: 'dispatcher_id', type: 'varchar', length: 128, nullable: true })
  dispatcherId!: string | null;

  @Column({ name: 'started_at', type: 'bigint', nullable: true, transformer: epochMs })
  startedAt!: number | null;

  @Column({ name: 'finished_at', type: 'bigint', nullable: true, transformer: epochMs })
  finishedAt!: number | null;

  @Column({ name: 'duration_ms', type: 'int', nullable: true })
  durationMs!: number | null;

  @Column({ name: 'exit_code', type: 'int', nullable: true })
  exitCode!: number | null;

  @Column({ name: 'http_status', type: 'int', nullable: true })
  httpStatus!: number | null;

  @Column({ type: 'text', nullable: true })
  output!: string | null;

  @Column({ name: 'output_truncated', type: 'boolean', default: false })
  outputTruncated!: boolean;

  @Column({ type: 'text', nullable: true })
  error!: string | null;

  /**
   * A `skipped` record's ticks: the consecutive `forbid` skips of one active run folded into one record, or the ticks
   * a misfire policy dropped. 0 on records of one tick written before it existed (and on every other status).
   */
  @Column({ name: 'skipped_count', type: 'int', default: 0 })
  skippedCount!: number;

  /**
   * A `skipped` record covering several ticks: the first of them; `scheduledAt` is the last (the record's ledger key
   * is its last tick for folded `forbid` skips, its first for a dropped range). Null: the record is its own tick.
   */
  @Column({ name: 'skipped_from', type: 'bigint', nullable: true, transformer: epochMs })
  skippedFrom!: number | null;

  /**
   * A pending run of a broker group: when the broker last confirmed its message (null: never). The pending pass
   * publishes again only runs never confirmed or confirmed long ago (a queue the broker lost), not every pending one.
   */
  @Column({ name: 'queued_at', type: 'bigint', nullable: true, transformer: epochMs })
  queuedAt!: number | null;

  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs })
  createdAt!: number;

  @Column({ name: 'updated_at', type: 'bigint', transformer: epochMs })
  updatedAt!: number;
}
