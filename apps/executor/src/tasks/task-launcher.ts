import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@app/config';
import {
  JobEntity,
  JobTask,
  LedgerKey,
  retryPolicyOf,
  RetryPolicy,
  RunBatchRepository,
  RunResult,
  RunsRepository,
} from '@app/persistence';
import { ActiveRun, ActiveRuns } from './active-runs';
import { ResultRecorder } from './result-recorder';
import { HttpRunner } from './runners/http-runner';
import { ShellRunner } from './runners/shell-runner';
import { NO_ISOLATION, TASK_ISOLATION, TaskIsolation } from './runners/task-isolation';
import type { RunContext, RunningTask, TaskResult } from './runners/task-runner';

/** How long the executor launches tasks before it lets other work in. */
const LAUNCH_SLICE_MS = 10;

/**
 * A run whose start is recorded, with what it runs: the ledger key the start's compare-and-set matched (so its
 * attempt and instant are the ledger's), its job as read from the ledger, and the job's task.
 */
export interface Launch {
  run: LedgerKey;
  job: JobEntity;
  task: JobTask;
  slot: ActiveRun;
}

function failed(error: string): TaskResult {
  return { status: 'failed', exitCode: null, httpStatus: null, output: '', outputTruncated: false, error };
}

/**
 * Starts the tasks of runs whose start is recorded (the shell or HTTP runner), and records each result in the
 * ledger (with the job's next attempt when it failed and may retry). The slot stays held until the result is
 * written, so capacity counts runs whose result is not recorded yet. What runs, for how long, and how often it is
 * retried are the job's, as read from the ledger: nothing of the request that offered the run.
 */
@Injectable()
export class TaskLauncher {
  private readonly logger = new Logger(TaskLauncher.name);
  private readonly shell: ShellRunner;
  private readonly http = new HttpRunner();
  private readonly results: ResultRecorder;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    runs: RunsRepository,
    batch: RunBatchRepository,
    private readonly active: ActiveRuns,
    @Optional() @Inject(TASK_ISOLATION) isolation: TaskIsolation = NO_ISOLATION,
  ) {
    this.shell = new ShellRunner(isolation);
    this.results = new ResultRecorder(runs, batch, config.executor.id);
  }

  /**
   * Starts tasks a few milliseconds' worth at a time, yielding in between: a process spawn costs milliseconds of this
   * process's CPU (fork), and two hundred in a row would keep health probes, cancels and the next batch waiting.
   */
  launchPaced(queue: Launch[], from = 0): void {
    const until = Date.now() + LAUNCH_SLICE_MS;
    let i = from;
    while (i < queue.length && (i === from || Date.now() < until)) {
      this.launch(queue[i]);
      i++;
    }
    if (i < queue.length) setImmediate(() => this.launchPaced(queue, i));
  }

  /** Starts the task of a run whose start is recorded, and records its result when it ends. */
  private launch({ run, job, task, slot }: Launch): void {
    const policy = retryPolicyOf(job);
    if (slot.stop) {
      // Stopped between the start being recorded and the launch: nothing is started at all.
      void this.record(run, { ...failed(slot.stop.message), status: 'cancelled' }, policy, slot);
      return;
    }
    const scheduledAt = new Date(run.scheduledAt).toISOString();
    try {
      slot.task = this.start(
        { runId: run.id, jobId: run.jobId, scheduledAt, attempt: run.attempt, timeoutMs: job.timeoutMs },
        task,
      );
    } catch (e) {
      // The start is recorded; record the failure too, so the run does not stay running.
      slot.task = {
        done: Promise.resolve(failed(`could not start: ${(e as Error).message}`)),
        cancel: () => undefined,
      };
    }
    this.logger.debug({
      msg: 'run started',
      runId: run.id,
      jobId: run.jobId,
      scheduledAt,
      executorId: this.config.executor.id,
    });
    void slot.task.done
      .catch((e: Error) => failed(`task crashed: ${e.message}`))
      .then((result) => this.record(run, result, policy, slot));
  }

  private start(ctx: RunContext, task: JobTask): RunningTask {
    return task.type === 'shell'
      ? this.shell.start(ctx, { command: task.command, env: task.env })
      : this.http.start(ctx, task.http);
  }

  /**
   * Writes the result (batched, retried while the ledger is unreachable); the slot frees once it is recorded. A run
   * this executor stopped as `lost` is recorded as lost, with the reason as its error.
   */
  private async record(run: LedgerKey, task: TaskResult, policy: RetryPolicy | null, slot: ActiveRun): Promise<void> {
    const lost = slot.stop?.kind === 'lost';
    const result: RunResult = {
      status: lost ? 'lost' : task.status,
      finishedAt: Date.now(),
      exitCode: task.exitCode,
      httpStatus: task.httpStatus,
      output: task.output,
      outputTruncated: task.outputTruncated,
      error: lost ? slot.stop!.message : task.error,
    };
    await this.results.record(run, result, policy);
    this.active.release(run.id);
  }
}
