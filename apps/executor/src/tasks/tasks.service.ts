import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnModuleInit,
  OnApplicationShutdown,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { APP_CONFIG, AppConfig } from '@app/config';
import { REGISTRATION, Registration } from '@app/discovery';
import {
  JobsRepository,
  RetryPolicy,
  RunBatchRepository,
  RunResult,
  RunsRepository,
  waitForSchema,
} from '@app/persistence';
import type { HealthReply, RunOutcome, RunRefusal, RunReply, RunRequest } from '@app/protocol';
import { HttpRunner } from './runners/http-runner';
import { ShellRunner } from './runners/shell-runner';
import type { RunContext, RunningTask, RunOutcome as TaskOutcome } from './runners/task-runner';
import { LedgerKey, ResultRecorder } from './result-recorder';
import { runRequestProblems } from './run-request.validator';
import { TaskError } from './task-errors';

function ledgerKeyOf(req: RunRequest): LedgerKey {
  return {
    id: req.runId,
    jobId: req.jobId,
    tickKey: req.tickKey ?? '',
    attempt: req.attempt,
    executorKey: req.executorKey ?? '',
    scheduledAt: Date.parse(req.scheduledAt),
  };
}

function failedOutcome(error: string): TaskOutcome {
  return { status: 'failed', exitCode: null, httpStatus: null, output: '', outputTruncated: false, error };
}

/** How often the executor compares its runs with the ledger, to stop one cancelled or declared lost elsewhere. */
const LEDGER_WATCH_MS = 1000;
/** How long the executor launches tasks before it lets other work in. */
const LAUNCH_SLICE_MS = 10;

interface ActiveRun {
  runId: number;
  jobId: number;
  task: RunningTask | null;
  cancelReason: string | null;
}

/**
 * Runs tasks up to `capacity` at once and records each run's start and result in the ledger itself, so a run
 * survives the death of the dispatcher that sent it.
 */
@Injectable()
export class TasksService implements OnModuleInit, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger(TasksService.name);
  private readonly active = new Map<number, ActiveRun>();
  private readonly startedAt = new Date().toISOString();
  private draining = false;
  private watchTimer: NodeJS.Timeout | null = null;
  private loadTimer: NodeJS.Timeout | null = null;
  private readonly shell = new ShellRunner();
  private readonly http = new HttpRunner();
  private readonly results: ResultRecorder;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly runs: RunsRepository,
    private readonly batch: RunBatchRepository,
    private readonly jobs: JobsRepository,
    @InjectDataSource() private readonly ds: DataSource,
    @Inject(REGISTRATION) private readonly registration: Registration,
  ) {
    this.results = new ResultRecorder(runs, batch, config.executor.id);
  }

  /**
   * Called once the gRPC server listens: registers in discovery and keeps the load figure fresh. A lease that can
   * not be renewed for a TTL stops every run here: dispatchers will have declared them lost and retried them.
   */
  async register(): Promise<void> {
    this.registration.onLeaseLost(() => {
      for (const slot of this.active.values()) {
        slot.cancelReason = `lost: executor ${this.executorId} lost its discovery lease`;
        slot.task?.cancel(slot.cancelReason);
      }
    });
    await this.registration.put(this.registrationValue());
    let last = this.active.size;
    this.loadTimer = setInterval(() => {
      if (this.active.size === last || this.draining) return;
      last = this.active.size;
      this.registration
        .put(this.registrationValue())
        .catch((e: Error) => this.logger.warn(`registration update failed: ${e.message}`));
    }, 2000);
  }

  private registrationValue() {
    const e = this.config.executor;
    return {
      id: e.id,
      address: e.advertise,
      group: e.group,
      capacity: e.capacity,
      running: this.active.size,
      startedAt: this.startedAt,
      draining: this.draining,
    };
  }

  async onModuleInit(): Promise<void> {
    await waitForSchema(this.ds);
    this.watchTimer = setInterval(() => void this.watchLedger(), LEDGER_WATCH_MS);
  }

  get executorId(): string {
    return this.config.executor.id;
  }

  health(): HealthReply {
    const e = this.config.executor;
    return {
      executorId: e.id,
      group: e.group,
      capacity: e.capacity,
      running: this.active.size,
      startedAt: this.startedAt,
      draining: this.draining,
      runIds: [...this.active.keys()],
      address: e.advertise,
    };
  }

  /** One run (the `Run` RPC): the batch path with one element, its refusal thrown as a coded error. */
  async start(req: RunRequest): Promise<RunReply> {
    const [outcome] = await this.startMany([req]);
    if (!outcome.accepted) throw new TaskError(outcome.code || 'LEDGER_DOWN', outcome.message);
    return { accepted: true, executorId: this.executorId };
  }

  /**
   * Starts what it can of `reqs`, up to capacity, with one ledger compare-and-set for all of them; every run is
   * answered on its own. A run already running here is accepted again (idempotent by run id).
   */
  async startMany(reqs: RunRequest[]): Promise<RunOutcome[]> {
    const outcomes: RunOutcome[] = [];
    const refuse = (req: RunRequest, code: RunRefusal, message: string) =>
      outcomes.push({ runId: Number(req.runId) || 0, accepted: false, code, message });
    const taking: { req: RunRequest; slot: ActiveRun; outcome: RunOutcome }[] = [];
    const seen = new Set<number>();
    for (const req of reqs) {
      const problems = runRequestProblems(req);
      if (problems.length > 0) {
        refuse(req, 'INVALID', problems.join('; '));
        continue;
      }
      if (seen.has(req.runId)) {
        refuse(req, 'INVALID', `run_id: ${req.runId} appears twice in the batch`);
        continue;
      }
      seen.add(req.runId);
      if (this.active.has(req.runId)) {
        outcomes.push({ runId: req.runId, accepted: true, code: '', message: '' });
        continue;
      }
      if (this.draining) {
        refuse(req, 'DRAINING', `executor ${this.executorId} is draining`);
        continue;
      }
      if (this.active.size >= this.config.executor.capacity) {
        refuse(
          req,
          'AT_CAPACITY',
          `executor ${this.executorId} runs ${this.active.size} of ${this.config.executor.capacity}`,
        );
        continue;
      }
      // Reserve the slot before the first await, so concurrent sends can not exceed capacity.
      const slot: ActiveRun = { runId: req.runId, jobId: req.jobId, task: null, cancelReason: null };
      this.active.set(req.runId, slot);
      const outcome: RunOutcome = { runId: req.runId, accepted: false, code: 'NOT_PENDING', message: '' };
      outcomes.push(outcome);
      taking.push({ req, slot, outcome });
    }
    if (taking.length === 0) return outcomes;
    let took: Set<number>;
    try {
      // The ledger's CAS pending → running is the fence: of two executors offered the same run, one starts it.
      took = await this.batch.markRunningMany(
        taking.map((t) => t.req.runId),
        this.executorId,
        this.config.executor.advertise,
      );
    } catch (e) {
      for (const t of taking) {
        this.active.delete(t.req.runId);
        Object.assign(t.outcome, {
          code: 'LEDGER_DOWN',
          message: `cannot record the start of run ${t.req.runId}: ${(e as Error).message}`,
        });
      }
      return outcomes;
    }
    const launching: typeof taking = [];
    for (const t of taking) {
      if (!took.has(t.req.runId)) {
        this.active.delete(t.req.runId);
        t.outcome.message = `run ${t.req.runId} is not pending (taken or finished elsewhere)`;
        continue;
      }
      Object.assign(t.outcome, { accepted: true, code: '', message: '' });
      launching.push(t);
    }
    // The answer goes out first, then the tasks start: starting a thousand requests or processes takes a while, and
    // the dispatcher should not wait for it (the starts are recorded, the slots reserved).
    if (launching.length > 0) setImmediate(() => this.launchPaced(launching));
    return outcomes;
  }

  /**
   * Starts tasks a few milliseconds' worth at a time, yielding in between: a process spawn costs milliseconds of this
   * process's CPU (fork), and two hundred in a row would keep health probes, cancels and the next batch waiting.
   */
  private launchPaced(queue: { req: RunRequest; slot: ActiveRun }[], from = 0): void {
    const until = Date.now() + LAUNCH_SLICE_MS;
    let i = from;
    while (i < queue.length && (i === from || Date.now() < until)) {
      void this.launchRecorded(queue[i].req, queue[i].slot);
      i++;
    }
    if (i < queue.length) setImmediate(() => this.launchPaced(queue, i));
  }

  /** Starts the task of a run whose start is recorded, and records its result when it ends. */
  private async launchRecorded(req: RunRequest, slot: ActiveRun): Promise<void> {
    let run: LedgerKey | null = req.tickKey ? ledgerKeyOf(req) : null;
    if (!run) {
      // A dispatcher that does not send the ledger key: read it (the start is recorded, so the row exists).
      run = await this.runs.findById(req.runId).catch(() => null);
      run ??= ledgerKeyOf(req);
    }
    if (slot.cancelReason) {
      // Cancelled (or lost) between the start being recorded and the launch: nothing is started at all.
      const reason = slot.cancelReason;
      const outcome = { ...failedOutcome(reason), status: 'cancelled' as const };
      const policy = this.policyOf(req);
      void this.record(run, outcome, policy, slot);
      return;
    }
    const ctx: RunContext = {
      runId: req.runId,
      jobId: req.jobId,
      scheduledAt: req.scheduledAt,
      attempt: req.attempt,
      timeoutMs: req.timeoutMs,
    };
    try {
      slot.task = this.launch(req, ctx);
    } catch (e) {
      // The start is recorded; record the failure too, so the run does not stay running.
      slot.task = {
        done: Promise.resolve(failedOutcome(`could not start: ${(e as Error).message}`)),
        cancel: () => undefined,
      };
    }
    if (slot.cancelReason) slot.task.cancel(slot.cancelReason);
    this.logger.debug({
      msg: 'run started',
      runId: req.runId,
      jobId: req.jobId,
      scheduledAt: req.scheduledAt,
      executorId: this.executorId,
    });
    const policy = this.policyOf(req);
    const key = run;
    void slot.task.done
      .catch((e: Error) => failedOutcome(`task crashed: ${e.message}`))
      .then((outcome) => this.record(key, outcome, policy, slot));
  }

  private policyOf(req: RunRequest): RetryPolicy | null {
    return req.retry
      ? { retries: req.retry.retries, retryBackoffMs: req.retry.retryBackoffMs, timeoutMs: req.timeoutMs }
      : null;
  }

  private launch(req: RunRequest, ctx: RunContext): RunningTask {
    return req.task === 'shell' && req.shell
      ? this.shell.start(ctx, { command: req.shell.command, env: req.shell.env ?? {} })
      : this.http.start(ctx, {
          method: req.http!.method,
          url: req.http!.url,
          headers: req.http!.headers ?? {},
          body: req.http!.body ?? '',
          expectStatus: req.http!.expectStatus ?? [],
        });
  }

  /** Stops a run this executor has; false when it has none by that id. */
  cancel(runId: number, reason: string): { cancelled: boolean } {
    const slot = this.active.get(runId);
    if (!slot) throw new TaskError('NOT_FOUND', `run ${runId} is not running on executor ${this.executorId}`);
    slot.cancelReason = reason;
    slot.task?.cancel(reason);
    return { cancelled: true };
  }

  /** Writes the result (batched, retried while the ledger is unreachable); the slot frees once it is recorded. */
  private async record(
    run: LedgerKey,
    outcome: TaskOutcome,
    policy: RetryPolicy | null,
    slot: ActiveRun,
  ): Promise<void> {
    const lost = slot.cancelReason?.startsWith('lost:') ?? false;
    const result: RunResult = {
      status: lost ? 'lost' : outcome.status,
      finishedAt: Date.now(),
      exitCode: outcome.exitCode,
      httpStatus: outcome.httpStatus,
      output: outcome.output,
      outputTruncated: outcome.outputTruncated,
      error: lost ? slot.cancelReason!.slice(5).trim() : outcome.error,
    };
    await this.results.record(run, result, policy);
    this.active.delete(run.id);
  }

  /** A run cancelled or declared lost elsewhere (a dispatcher that could not reach us) is stopped here too. */
  private async watchLedger(): Promise<void> {
    try {
      // Reserved slots whose task is not launched yet count too: a cancel recorded meanwhile stops the launch.
      const ids = [...this.active.values()].filter((s) => !s.cancelReason).map((s) => s.runId);
      const started = new Set(ids.filter((id) => this.active.get(id)?.task));
      for (const { id, status } of await this.runs.findStatuses(ids)) {
        if (status === 'running' || (status === 'pending' && !started.has(id))) continue;
        const slot = this.active.get(id);
        if (!slot) continue;
        slot.cancelReason = `run is ${status} in the ledger`;
        slot.task?.cancel(slot.cancelReason);
      }
      await this.releaseOrphans();
    } catch (e) {
      this.logger.warn(`ledger watch failed: ${(e as Error).message}`);
    }
  }

  /**
   * Runs the ledger says are running here that this process does not run: a start recorded whose reply was lost, or
   * runs of an earlier process with the same configured id. Nothing will ever finish them, so they are lost (and
   * retried per their job). A slot is reserved before the start is recorded, so a run being started is never one.
   */
  private async releaseOrphans(): Promise<void> {
    for (const run of await this.runs.findRunningOn([this.executorId])) {
      if (this.active.has(run.id)) continue;
      const job = await this.jobs.findById(run.jobId);
      const policy = job
        ? { retries: job.retries, retryBackoffMs: job.retryBackoffMs, timeoutMs: job.timeoutMs }
        : null;
      const { finished } = await this.runs.finishWithRetry(
        run,
        {
          status: 'lost',
          finishedAt: Date.now(),
          error: `executor ${this.executorId} is not running it (lost start or restart)`,
        },
        policy,
      );
      if (finished)
        this.logger.warn({
          msg: 'orphaned run marked lost',
          runId: run.id,
          jobId: run.jobId,
          executorId: this.executorId,
        });
    }
  }

  /** SIGTERM: take nothing new, let running tasks finish within drain_timeout, then hand the rest back. */
  async beforeApplicationShutdown(signal?: string): Promise<void> {
    this.draining = true;
    // First leave the routing tables (nothing new arrives), keeping the lease so finishing runs are not lost.
    await this.registration.put(this.registrationValue()).catch(() => undefined);
    const budgetMs = this.config.executor.drainTimeoutSeconds * 1000;
    this.logger.log(`draining (${signal ?? 'shutdown'}): ${this.active.size} run(s), up to ${budgetMs} ms`);
    const giveUpAt = Date.now() + budgetMs;
    while (this.active.size > 0 && Date.now() < giveUpAt) await new Promise((r) => setTimeout(r, 100));
    if (this.active.size === 0) {
      await this.registration.stop();
      return;
    }
    // Declared lost so that the job's retries apply (on another executor), rather than silently dropped.
    for (const slot of this.active.values()) {
      slot.cancelReason = `lost: executor ${this.executorId} stopped before the run finished (drain timeout)`;
      slot.task?.cancel(slot.cancelReason);
    }
    const hardStop = Date.now() + 10_000;
    while (this.active.size > 0 && Date.now() < hardStop) await new Promise((r) => setTimeout(r, 100));
    await this.registration.stop();
  }

  onApplicationShutdown(): void {
    if (this.watchTimer) clearInterval(this.watchTimer);
    if (this.loadTimer) clearInterval(this.loadTimer);
  }
}
