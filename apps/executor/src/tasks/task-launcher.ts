import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@app/config';
import { EgressPolicy, logsDebug, maskSecrets } from '@app/common';
import {
  JobEntity,
  JobTask,
  NO_SECRETS,
  PlainSecrets,
  LedgerKey,
  retryPolicyOf,
  RetryPolicy,
  RunBatchRepository,
  RunResult,
  RunsRepository,
  secretValues,
} from '@app/persistence';
import { ExecutorMetrics } from '../metrics/executor-metrics';
import { ActiveRun, ActiveRuns } from './active-runs';
import { DispatcherEndpoints } from './dispatcher-endpoints';
import { ResultRecorder } from './result-recorder';
import { HttpRunner } from './runners/http-runner';
import { LiveOutput } from './runners/live-output';
import { OMITTED_MARKER } from './runners/output-buffer';
import { ShellRunner } from './runners/shell-runner';
import { NO_ISOLATION, TASK_ISOLATION, TaskIsolation } from './runners/task-isolation';
import type { ParentContext, RunContext, RunningTask, TaskResult } from './runners/task-runner';

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
  /** The job's secrets, opened: given to the task, and masked in what the run records. */
  secrets?: PlainSecrets;
  /** A dependency run's parent runs (ParentContexts); absent for every other run. */
  parents?: ParentContext;
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
  private readonly http: HttpRunner;
  private readonly results: ResultRecorder;
  /** Batches whose tasks are still to start, the oldest first; `next` is the first of the oldest not started yet. */
  private readonly queue: Launch[][] = [];
  private next = 0;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    runs: RunsRepository,
    batch: RunBatchRepository,
    private readonly active: ActiveRuns,
    dispatchers: DispatcherEndpoints,
    @Optional() private readonly metrics?: ExecutorMetrics,
    @Optional() @Inject(TASK_ISOLATION) isolation: TaskIsolation = NO_ISOLATION,
  ) {
    this.shell = new ShellRunner(isolation);
    this.results = new ResultRecorder(runs, batch, config.executor.id);
    const { httpAllow, httpDeny } = config.executor;
    this.http = new HttpRunner(new EgressPolicy(httpAllow, httpDeny, () => dispatchers.list()));
  }

  /**
   * Queues tasks to start, a few milliseconds' worth at a time, yielding in between: a process spawn costs
   * milliseconds of this process's CPU (fork), and two hundred in a row would keep health probes, cancels and the next
   * batch waiting. One queue for every batch, in the order they were taken: ten batches taken at once take ten slices
   * in turn, not ten slices in each turn of the event loop.
   */
  launchPaced(batch: Launch[]): void {
    if (batch.length === 0) return;
    this.queue.push(batch);
    if (this.queue.length === 1) this.pump();
  }

  private pump(): void {
    const until = Date.now() + LAUNCH_SLICE_MS;
    let first = true;
    while (this.queue.length > 0 && (first || Date.now() < until)) {
      const batch = this.queue[0];
      const launch = batch[this.next++];
      if (this.next === batch.length) {
        this.queue.shift();
        this.next = 0;
      }
      first = false;
      try {
        this.launch(launch);
      } catch (e) {
        // A bug in launching one run must neither leave it running nor stop the queue for every later batch.
        this.failLaunch(launch, e);
      }
    }
    if (this.queue.length > 0) setImmediate(() => this.pump());
  }

  /** Starts the task of a run whose start is recorded, and records its result when it ends. */
  private launch({ run, job, task, secrets = NO_SECRETS, parents, slot }: Launch): void {
    const policy = retryPolicyOf(job);
    const hide = secretValues(secrets);
    if (slot.stop) {
      // Stopped between the start being recorded and the launch: nothing is started at all.
      void this.record(
        run,
        { ...failed(slot.stop.message), status: 'cancelled' },
        policy,
        slot,
        hide,
        job.group,
        Date.now(),
      );
      return;
    }
    const scheduledAt = new Date(run.scheduledAt).toISOString();
    const startedAt = Date.now();
    // Masked with the same values as the recorded output, so that followers never see a secret either.
    const live = new LiveOutput(hide);
    slot.live = live;
    this.metrics?.started.inc({ group: job.group });
    if (logsDebug()) {
      this.logger.debug({
        msg: 'run started',
        runId: run.id,
        jobId: run.jobId,
        scheduledAt,
        executorId: this.config.executor.id,
        // Ids only: a parent's output is never logged.
        ...(parents && { parentRunIds: parents.runIds }),
      });
    }
    // Nothing after the task's start may throw (failLaunch would record a run whose task goes on).
    try {
      slot.task = this.start(
        {
          runId: run.id,
          jobId: run.jobId,
          scheduledAt,
          attempt: run.attempt,
          timeoutMs: job.timeoutMs,
          onOutput: (chunk) => live.append(chunk),
          parents,
        },
        task,
        secrets,
      );
    } catch (e) {
      // The start is recorded; record the failure too, so the run does not stay running.
      slot.task = {
        done: Promise.resolve(failed(`could not start: ${(e as Error).message}`)),
        cancel: () => undefined,
      };
    }
    void slot.task.done
      .catch((e: Error) => failed(`task crashed: ${e.message}`))
      .then((result) => this.record(run, result, policy, slot, hide, job.group, startedAt));
  }

  /** A launch that threw: the run is recorded failed (its task stopped first, had it started), masked for its job. */
  private failLaunch({ run, job, secrets = NO_SECRETS, slot }: Launch, e: unknown): void {
    let hide: string[] = [];
    let policy: RetryPolicy | null = null;
    try {
      hide = secretValues(secrets);
      policy = retryPolicyOf(job);
    } catch {
      // Recorded without them: the message names no value of the job, and RetryRepair owes the retry.
    }
    const error = maskSecrets(`could not start: ${e instanceof Error ? e.message : String(e)}`, hide);
    this.logger.error({ msg: 'run could not be launched', runId: run.id, jobId: run.jobId, error });
    const task = slot.task;
    if (task) task.cancel(error);
    const ended: Promise<unknown> = task ? task.done.catch(() => undefined) : Promise.resolve();
    void ended
      .then(() => this.record(run, failed(error), policy, slot, hide, job.group, Date.now()))
      .catch((err: Error) => this.logger.error({ msg: 'run result not recorded', runId: run.id, error: err.message }));
  }

  /** Secret variables over plain ones; secret headers over plain ones of the same name, whatever its case. */
  private start(ctx: RunContext, task: JobTask, secrets: PlainSecrets): RunningTask {
    if (task.type === 'shell') {
      return this.shell.start(ctx, { command: task.command, env: { ...task.env, ...secrets.env } });
    }
    const secretNames = new Set(Object.keys(secrets.headers).map((h) => h.toLowerCase()));
    const plain = Object.entries(task.http.headers).filter(([h]) => !secretNames.has(h.toLowerCase()));
    return this.http.start(ctx, { ...task.http, headers: { ...Object.fromEntries(plain), ...secrets.headers } }, [
      ...secretNames,
    ]);
  }

  /**
   * Writes the result (batched, retried while the ledger is unreachable); the slot frees once it is recorded. A run
   * this executor stopped as `lost` is recorded as lost, with the reason as its error.
   */
  private async record(
    run: LedgerKey,
    task: TaskResult,
    policy: RetryPolicy | null,
    slot: ActiveRun,
    secrets: string[],
    group: string,
    startedAt: number,
  ): Promise<void> {
    // The task is done: its live output is complete, though `end` waits for the result to be recorded.
    slot.live?.complete();
    const lost = slot.stop?.kind === 'lost';
    const error = lost ? slot.stop!.message : task.error;
    // Masked here, on the output as it is stored (head, marker, tail), so a value split across chunks is caught too.
    const result: RunResult = {
      status: lost ? 'lost' : task.status,
      finishedAt: Date.now(),
      exitCode: task.exitCode,
      httpStatus: task.httpStatus,
      output: maskSecrets(task.output, secrets, OMITTED_MARKER),
      outputTruncated: task.outputTruncated,
      error: error === null ? null : maskSecrets(error, secrets),
    };
    try {
      await this.results.record(run, result, policy);
    } finally {
      // Followers get `end` once the result is in the ledger, so that a client reading the run then sees it final.
      slot.live?.finish(result.status);
    }
    this.active.release(run.id);
    this.metrics?.finished.inc({ group, status: result.status });
    this.metrics?.duration.observe({ group, status: result.status }, (result.finishedAt - startedAt) / 1000);
  }
}
