import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type {
  ConcurrencyPolicy,
  DependencyCondition,
  DependencyMode,
  HttpSpec,
  JobNotify,
  JobType,
  MisfirePolicy,
  Routing,
} from '../domain';
import { epochMs, int64 } from './ms-transformer';

/** One parent of a job: when that job's finished run starts this one. */
export interface JobDependency {
  jobId: number;
  on: DependencyCondition;
}

/**
 * Whether the job has a schedule of its own. A job with an empty cron (it has parents: the API refuses one with
 * neither) runs only when its parents start it: the scheduler and the missed-tick watchdog never plan it.
 */
export function hasSchedule(job: Pick<JobEntity, 'cron'>): boolean {
  return job.cron !== '';
}

/** A job's secrets as stored: name → sealed value (`v1.<iv>.<ciphertext+tag>`). */
export interface JobSecrets {
  env?: Record<string, string>;
  headers?: Record<string, string>;
}

@Entity({ name: 'jobs' })
@Index('ix_jobs_updated', ['updatedAt', 'id'])
@Index('ix_jobs_verify', ['verifyFrom'])
export class JobEntity {
  @PrimaryColumn({ type: 'bigint', generated: 'increment', transformer: int64 })
  id!: number;

  @Index('uq_jobs_name', { unique: true })
  @Column({ type: 'varchar', length: 128 })
  name!: string;

  @Column({ type: 'varchar', length: 1024, default: '' })
  description!: string;

  @Column({ type: 'varchar', length: 255 })
  cron!: string;

  @Column({ type: 'varchar', length: 64, default: 'UTC' })
  timezone!: string;

  @Column({ type: 'varchar', length: 8 })
  type!: JobType;

  @Column({ type: 'text', nullable: true })
  command!: string | null;

  @Column({ type: 'simple-json' })
  env!: Record<string, string>;

  @Column({ type: 'simple-json', nullable: true })
  http!: HttpSpec | null;

  /**
   * `secretEnv` and `http.secretHeaders`, each value sealed (SecretBox: AES-256-GCM, bound to the job and the name);
   * null when the job has none. Only the names are ever shown.
   */
  @Column({ type: 'simple-json', nullable: true })
  secrets?: JobSecrets | null;

  /**
   * The job's own notification settings (events, webhook, Slack, email), each field given overriding `[notify]`;
   * null: the defaults. The URLs are credentials (a Slack URL above all): every response masks them.
   */
  @Column({ type: 'simple-json', nullable: true })
  notify?: JobNotify | null;

  /**
   * The job's parents, null when it has none (then `cron` is required). The same edges are in `job_dependencies`,
   * written in the same transaction, for the reverse reads.
   */
  @Column({ name: 'depends_on', type: 'simple-json', nullable: true })
  dependsOn!: JobDependency[] | null;

  @Column({ name: 'dependency_mode', type: 'varchar', length: 8, default: 'all' })
  dependencyMode!: DependencyMode;

  @Column({ name: 'dependency_window_ms', type: 'int', default: 3_600_000 })
  dependencyWindowMs!: number;

  @Column({ name: 'timeout_ms', type: 'int' })
  timeoutMs!: number;

  @Column({ type: 'int' })
  retries!: number;

  @Column({ name: 'retry_backoff_ms', type: 'int' })
  retryBackoffMs!: number;

  @Column({ type: 'varchar', length: 8 })
  concurrency!: ConcurrencyPolicy;

  @Column({ type: 'varchar', length: 8 })
  misfire!: MisfirePolicy;

  @Column({ name: 'group_name', type: 'varchar', length: 64 })
  group!: string;

  @Column({ type: 'varchar', length: 16 })
  routing!: Routing;

  @Column({ type: 'boolean' })
  enabled!: boolean;

  /** When the schedule (cron, timezone, or enabled) was last set: the anchor of `@every`. */
  @Column({ name: 'schedule_set_at', type: 'bigint', transformer: epochMs })
  scheduleSetAt!: number;

  /**
   * The ledger cursor: the last scheduled tick that has a record. Due ticks are computed from here, never from
   * timer punctuality, so a late timer or a dead dispatcher makes a tick late, not lost.
   */
  @Column({ name: 'last_tick_at', type: 'bigint', transformer: epochMs })
  lastTickAt!: number;

  @Column({ name: 'next_run_at', type: 'bigint', nullable: true, transformer: epochMs })
  nextRunAt!: number | null;

  /**
   * The missed-tick watchdog's watermark: the job's first tick not yet verified to have a record; every tick before
   * it has one (or fell while the job was paused, or before its schedule was set). Null: no tick to verify. Moved
   * forward by the watchdog; set to the next fire time when the schedule is set or the job resumed. Not a user
   * change: it does not bump `version`.
   */
  @Column({ name: 'verify_from', type: 'bigint', nullable: true, transformer: epochMs })
  verifyFrom!: number | null;

  /** Bumped on every change, so dispatchers can tell a stale copy from a current one. */
  @Column({ type: 'int', default: 1 })
  version!: number;

  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs })
  createdAt!: number;

  @Column({ name: 'updated_at', type: 'bigint', transformer: epochMs })
  updatedAt!: number;
}
