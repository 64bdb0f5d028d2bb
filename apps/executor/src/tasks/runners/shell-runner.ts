import { Injectable } from '@nestjs/common';
import { chownSync, mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { commandAllowed } from './command-glob';
import { OutputBuffer } from './output-buffer';
import { PARENT_ENV_PREFIX, putParentEnv } from './parent-env';
import { SpawnHelper, SpawnRequest } from './spawn-helper';
import { NO_ISOLATION, TaskIsolation, TaskUser } from './task-isolation';
import { MAX_TIMER_MS, RunContext, TaskResult, RunningTask, ShellTask } from './task-runner';

const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin';
/** Besides PATH, the only parts of the executor's environment a task may see; the rest is config and secrets. */
const INHERITED_ENV = ['HOME', 'LANG', 'TZ'] as const;
const DEFAULT_KILL_GRACE_MS = 5000;
/** After the SIGKILL: how long the helper has to report the end before the executor gives the run up itself. */
const BACKSTOP_MS = 5000;

/**
 * The safe base, the job's variables, then the executor's: the run's `GOCRON_*` and, for a dependency run, its
 * parents' (parent-env.ts), which no job variable can stand in for. `user`: run_as, whose HOME replaces the
 * executor's.
 */
export function buildTaskEnv(
  ctx: RunContext,
  jobEnv: Record<string, string>,
  executorEnv: NodeJS.ProcessEnv = process.env,
  user: TaskUser | null = null,
): Record<string, string> {
  // No prototype, so that a job variable named __proto__ is stored like any other instead of replacing it.
  const env: Record<string, string> = Object.create(null) as Record<string, string>;
  env.PATH = executorEnv.PATH || DEFAULT_PATH;
  for (const name of INHERITED_ENV) {
    const value = executorEnv[name];
    if (value !== undefined) env[name] = value;
  }
  if (user) env.HOME = user.home;
  for (const [name, value] of Object.entries(jobEnv)) {
    if (typeof value === 'string' && !name.startsWith(PARENT_ENV_PREFIX)) env[name] = value;
  }
  env.GOCRON_JOB_ID = String(ctx.jobId);
  env.GOCRON_RUN_ID = String(ctx.runId);
  env.GOCRON_SCHEDULED_AT = ctx.scheduledAt;
  env.GOCRON_ATTEMPT = String(ctx.attempt);
  if (ctx.parents) putParentEnv(env, ctx.parents);
  return env;
}

export interface ShellRunOptions {
  /** Between SIGTERM and SIGKILL on timeout or cancel. */
  killGraceMs?: number;
}

export const NOT_ALLOWED = 'refused: the command matches no pattern of [executor] allowed_commands';

/** Starts shell tasks through one spawn helper (spawn-helper.ts), started with the first run. */
@Injectable()
export class ShellRunner {
  private readonly helper: SpawnHelper;

  constructor(
    private readonly isolation: TaskIsolation = NO_ISOLATION,
    helper?: SpawnHelper,
  ) {
    this.helper = helper ?? new SpawnHelper();
  }

  start(ctx: RunContext, task: ShellTask, opts: ShellRunOptions = {}): RunningTask {
    return new ShellRun(ctx, task, this.isolation, this.helper, opts.killGraceMs ?? DEFAULT_KILL_GRACE_MS);
  }

  /** Ends the spawn helper, SIGKILLing what still runs (tests; at exit its pipe closes by itself). */
  close(): void {
    this.helper.close();
  }
}

/**
 * `[executor] workdir`, or a new directory (0700, owned by run_as) that is the run's alone; never the executor's
 * own cwd, where its config and database may be.
 */
function runDirectory(isolation: TaskIsolation): { cwd: string; temporary: boolean } {
  if (isolation.workdir) return { cwd: isolation.workdir, temporary: false };
  const cwd = mkdtempSync(join(tmpdir(), 'gocron-run-'));
  if (isolation.user) chownSync(cwd, isolation.user.uid, isolation.user.gid);
  return { cwd, temporary: true };
}

/** What the helper is asked to start: the run's shell, as run_as when set, in its directory. */
export function spawnRequest(
  command: string,
  env: Record<string, string>,
  isolation: TaskIsolation,
  cwd: string,
): SpawnRequest {
  const user = isolation.user;
  return {
    mode: isolation.mode,
    uid: user ? String(user.uid) : '',
    gid: user ? String(user.gid) : '',
    groups: user ? user.groups.join(' ') : '',
    cwd,
    command,
    env,
  };
}

/**
 * One run. The command's shell is the group leader and its exit ends the run: the helper SIGKILLs whatever else is
 * left in the group (background children) then, so a run ends with its processes.
 */
class ShellRun implements RunningTask {
  readonly done: Promise<TaskResult>;
  private resolveDone!: (outcome: TaskResult) => void;
  private readonly output = new OutputBuffer();
  /** The helper's id for the run; null when it was never handed to the helper. */
  private id: number | null = null;
  private dir: { cwd: string; temporary: boolean } | null = null;
  private stopping: { status: 'timed_out' | 'cancelled'; error: string } | null = null;
  private ended = false;
  private settled = false;
  private timeoutTimer: NodeJS.Timeout | null = null;
  private graceTimer: NodeJS.Timeout | null = null;
  private backstopTimer: NodeJS.Timeout | null = null;

  constructor(
    ctx: RunContext,
    task: ShellTask,
    isolation: TaskIsolation,
    private readonly helper: SpawnHelper,
    private readonly killGraceMs: number,
  ) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    if (!commandAllowed(task.command, isolation.allowedCommands)) {
      this.settle(this.outcome('failed', null, NOT_ALLOWED));
      return;
    }
    const live = ctx.onOutput ?? (() => undefined);
    try {
      this.dir = runDirectory(isolation);
      const env = buildTaskEnv(ctx, task.env, process.env, isolation.user);
      this.id = helper.spawn(spawnRequest(task.command, env, isolation, this.dir.cwd), {
        output: (chunk) => {
          this.output.append(chunk);
          live(chunk);
        },
        exited: (code, signal, report) => void this.onExit(code, signal, report),
        failed: (message, lost) => {
          this.ended = true;
          // A run being stopped when its helper died ends as it was being stopped (a cancel is not retried).
          const stopping = this.stopping;
          void this.finish(
            !lost
              ? this.outcome('failed', null, `could not start: ${message}`)
              : stopping
                ? this.outcome(stopping.status, null, stopping.error)
                : this.outcome('lost', null, message),
          );
        },
      });
    } catch (err) {
      // What execve can not carry (a NUL byte in the environment) is refused before anything starts.
      this.ended = true;
      void this.finish(this.outcome('failed', null, `could not start: ${errorMessage(err)}`));
      return;
    }

    if (ctx.timeoutMs > 0) {
      this.timeoutTimer = setTimeout(
        () => this.stop('timed_out', `timed out after ${ctx.timeoutMs} ms`),
        Math.min(ctx.timeoutMs, MAX_TIMER_MS),
      );
    }
  }

  cancel(reason?: string): void {
    this.stop('cancelled', reason || 'cancelled');
  }

  private stop(status: 'timed_out' | 'cancelled', error: string): void {
    if (this.settled || this.ended || this.stopping || this.id === null) return;
    this.stopping = { status, error };
    this.clearTimers();
    this.helper.signal(this.id, 'SIGTERM');
    this.graceTimer = setTimeout(
      () => {
        this.helper.signal(this.id!, 'SIGKILL');
        // The helper reports the end at once after a SIGKILL; should it not (a stalled helper), the run is given up
        // here, its group SIGKILLed by the executor itself.
        this.backstopTimer = setTimeout(() => {
          this.helper.abandon(this.id!);
          this.ended = true;
          void this.finish(this.outcome(status, null, error));
        }, BACKSTOP_MS);
      },
      Math.min(Math.max(0, this.killGraceMs), MAX_TIMER_MS),
    );
  }

  /** The helper has SIGKILLed the rest of the group and drained the output by now. */
  private async onExit(code: number | null, signalNumber: number | null, report: string): Promise<void> {
    if (this.settled) return;
    this.ended = true;
    this.clearTimers();
    let signal = signalNumber === null ? null : (SIGNAL_NAMES.get(signalNumber) ?? null);
    [code, signal] = taskStatus(report, code, signal);

    if (this.stopping) {
      await this.finish(this.outcome(this.stopping.status, code, this.stopping.error));
    } else if (code === 0) {
      await this.finish(this.outcome('succeeded', 0, null));
    } else if (code !== null) {
      await this.finish(this.outcome('failed', code, `exit code ${code}`));
    } else {
      await this.finish(this.outcome('failed', null, `killed by ${signal ?? 'an unknown signal'}`));
    }
  }

  /**
   * Settles once the run's temporary directory is gone. rm does not follow symlinks; what the task left there is
   * removed, not what it points to.
   */
  private async finish(outcome: TaskResult): Promise<void> {
    if (this.dir?.temporary) {
      await rm(this.dir.cwd, { recursive: true, force: true, maxRetries: 2 }).catch(() => undefined);
    }
    this.settle(outcome);
  }

  private outcome(status: TaskResult['status'], exitCode: number | null, error: string | null): TaskResult {
    return {
      status,
      exitCode,
      httpStatus: null,
      output: this.output.toString(),
      outputTruncated: this.output.truncated,
      error,
    };
  }

  private settle(outcome: TaskResult): void {
    if (this.settled) return;
    this.settled = true;
    this.clearTimers();
    this.resolveDone(outcome);
  }

  private clearTimers(): void {
    if (this.timeoutTimer) clearTimeout(this.timeoutTimer);
    if (this.graceTimer) clearTimeout(this.graceTimer);
    if (this.backstopTimer) clearTimeout(this.backstopTimer);
    this.timeoutTimer = null;
    this.graceTimer = null;
    this.backstopTimer = null;
  }
}

const SIGNAL_NAMES = new Map(Object.entries(constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]));

/**
 * PID 1 of a namespace reports the task's status ("exit N" or "signal N") because it cannot die of a signal itself;
 * without a report (process-group mode, or the chain was SIGKILLed) the spawned process's own status is the task's.
 */
export function taskStatus(
  report: string,
  code: number | null,
  signal: NodeJS.Signals | null,
): [number | null, NodeJS.Signals | null] {
  const m = /^(exit|signal) (\d+)$/.exec(report.trim());
  if (!m) return [code, signal];
  const n = Number(m[2]);
  return m[1] === 'exit' ? [n, null] : [null, SIGNAL_NAMES.get(n) ?? null];
}

function errorMessage(err: unknown): string {
  const message = (err as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : String(err);
}
