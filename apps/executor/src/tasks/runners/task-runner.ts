import type { HttpSpec } from '@app/contract';

/** What every runner is told about the run it executes. */
export interface RunContext {
  runId: number;
  jobId: number;
  /** ISO 8601. */
  scheduledAt: string;
  attempt: number;
  /** Wall-clock budget for the whole run; 0 or less means no limit. */
  timeoutMs: number;
  /** Hears each piece of output as it arrives (the run's LiveOutput), besides the capture that is recorded. */
  onOutput?: (chunk: Buffer) => void;
  /** A dependency run's parent runs (parent-contexts.ts); absent for every other run. */
  parents?: ParentContext;
}

/** One parent run of a dependency run, as the child is told of it. */
export interface ParentRun {
  id: number;
  jobId: number;
  exitCode: number | null;
  httpStatus: number | null;
  /** The tail of its stored output, already cut for the environment (parentOutputTail). */
  outputTail: string;
}

export interface ParentContext {
  /** Every parent run linked to the run's occasion, ascending (a link whose run was pruned included). */
  runIds: number[];
  /** Those of them whose row exists, ascending by id. */
  runs: ParentRun[];
}

/** `lost`: the task's processes were lost with the executor's spawn helper; the job's retries apply. */
export type TaskStatus = 'succeeded' | 'failed' | 'timed_out' | 'cancelled' | 'lost';

export type TaskResult = {
  status: TaskStatus;
  exitCode: number | null;
  httpStatus: number | null;
  output: string;
  outputTruncated: boolean;
  error: string | null;
};

export interface ShellTask {
  command: string;
  env: Record<string, string>;
}

/** The method arrives as a plain string over gRPC; the runner sends whatever it is. */
export type HttpTask = HttpSpec<string>;

/** A started run. `done` never rejects: every failure is reported as an outcome. */
export interface RunningTask {
  readonly done: Promise<TaskResult>;
  /** Idempotent; ignored once the run has finished or timed out. */
  cancel(reason?: string): void;
}

/** setTimeout fires at once for delays beyond a signed 32-bit millisecond count. */
export const MAX_TIMER_MS = 2 ** 31 - 1;
