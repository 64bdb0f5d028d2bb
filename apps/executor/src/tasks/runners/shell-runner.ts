import { Injectable } from '@nestjs/common';
import { ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { finished } from 'node:stream/promises';
import { OutputBuffer } from './output-buffer';
import { MAX_TIMER_MS, RunContext, TaskResult, RunningTask, ShellTask } from './task-runner';

const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin';
/** Besides PATH, the only parts of the executor's environment a task may see; the rest is config and secrets. */
const INHERITED_ENV = ['HOME', 'LANG', 'TZ'] as const;
const DEFAULT_KILL_GRACE_MS = 5000;
/**
 * How long to keep reading output after the task exited. Bounded because a process that escaped the group (setsid)
 * can hold the pipes open forever.
 */
const OUTPUT_DRAIN_MS = 250;

/**
 * Runs `$1` so that its process group dies with the executor, even when the executor is SIGKILLed: a task left running
 * beside its retry would be a duplicate run. Node cannot set PR_SET_PDEATHSIG, so the group watches for it itself.
 *
 * - stdin is a pipe the executor holds open and never writes; it reaches EOF only when the executor is gone. It moves
 *   to fd 3 because POSIX sh gives background jobs /dev/null as stdin.
 * - The watcher reads fd 3 until EOF, then SIGKILLs its own group. It ignores SIGTERM so that it keeps guarding the
 *   task through the kill grace. Its output goes to /dev/null so that it never holds the task's output pipes open.
 * - The command is exec'ed rather than waited for: the spawned pid then is the command's shell, so its exit code and
 *   any killing signal reach the executor exactly (a waiting wrapper would fold a signal into 128+N). It gets
 *   /dev/null as stdin and no fd 3, so the task cannot end or consume the watchdog pipe.
 *
 * Only builtins and /bin/sh by absolute path are used, so a job's own PATH cannot break the watchdog.
 */
export const SHELL_WRAPPER = [
  'exec 3<&0',
  "( trap '' HUP INT TERM; while read -r line; do :; done <&3; kill -KILL 0 ) </dev/null >/dev/null 2>&1 &",
  'exec /bin/sh -c "$1" </dev/null 3<&-',
].join('\n');

export interface ShellSpawn {
  file: string;
  args: string[];
  /** Plain data, so that it can be handed to another process as JSON. */
  options: { env: Record<string, string>; detached: true; stdio: ['pipe', 'pipe', 'pipe'] };
}

/** `detached` puts the task in its own process group, which is what timeouts, cancels and the watchdog kill. */
export function buildShellSpawn(command: string, env: Record<string, string>): ShellSpawn {
  return {
    file: '/bin/sh',
    args: ['-c', SHELL_WRAPPER, 'gocron-task', command],
    options: { env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] },
  };
}

export function buildTaskEnv(
  ctx: RunContext,
  jobEnv: Record<string, string>,
  executorEnv: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  // No prototype, so that a job variable named __proto__ is stored like any other instead of replacing it.
  const env: Record<string, string> = Object.create(null) as Record<string, string>;
  env.PATH = executorEnv.PATH || DEFAULT_PATH;
  for (const name of INHERITED_ENV) {
    const value = executorEnv[name];
    if (value !== undefined) env[name] = value;
  }
  for (const [name, value] of Object.entries(jobEnv)) {
    if (typeof value === 'string') env[name] = value;
  }
  env.GOCRON_JOB_ID = String(ctx.jobId);
  env.GOCRON_RUN_ID = String(ctx.runId);
  env.GOCRON_SCHEDULED_AT = ctx.scheduledAt;
  env.GOCRON_ATTEMPT = String(ctx.attempt);
  return env;
}

export interface ShellRunOptions {
  /** Between SIGTERM and SIGKILL on timeout or cancel. */
  killGraceMs?: number;
}

@Injectable()
export class ShellRunner {
  start(ctx: RunContext, task: ShellTask, opts: ShellRunOptions = {}): RunningTask {
    return new ShellRun(ctx, task, opts.killGraceMs ?? DEFAULT_KILL_GRACE_MS);
  }
}

/**
 * One run. The command's shell is the group leader and its exit ends the run: whatever else is left in the group
 * (background children, the watcher) is SIGKILLed then, so a run ends with its processes.
 */
class ShellRun implements RunningTask {
  readonly done: Promise<TaskResult>;
  private resolveDone!: (outcome: TaskResult) => void;
  private readonly output = new OutputBuffer();
  private child: ChildProcessWithoutNullStreams | null = null;
  private stopping: { status: 'timed_out' | 'cancelled'; error: string } | null = null;
  private exited = false;
  private settled = false;
  private timeoutTimer: NodeJS.Timeout | null = null;
  private graceTimer: NodeJS.Timeout | null = null;

  constructor(
    ctx: RunContext,
    task: ShellTask,
    private readonly killGraceMs: number,
  ) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));

    let child: ChildProcessWithoutNullStreams;
    try {
      const spec = buildShellSpawn(task.command, buildTaskEnv(ctx, task.env));
      child = spawn(spec.file, spec.args, spec.options);
    } catch (err) {
      // Invalid arguments (such as a NUL byte in the environment) throw instead of emitting 'error'.
      this.settle(this.outcome('failed', null, `could not start: ${errorMessage(err)}`));
      return;
    }
    this.child = child;

    const capture = (chunk: Buffer) => this.output.append(chunk);
    child.stdout.on('data', capture);
    child.stderr.on('data', capture);
    // A pipe error (EPIPE on closing stdin once the group is gone) must not crash the executor; 'exit' ends the run.
    child.stdin.on('error', () => undefined);
    child.stdout.on('error', () => undefined);
    child.stderr.on('error', () => undefined);

    child.once('error', (err) => {
      if (!this.exited) this.settle(this.outcome('failed', null, `could not start: ${err.message}`));
    });
    child.once('exit', (code, signal) => void this.onExit(code, signal));

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
    if (this.settled || this.exited || this.stopping || !this.child) return;
    this.stopping = { status, error };
    this.clearTimers();
    this.signalGroup('SIGTERM');
    this.graceTimer = setTimeout(
      () => this.signalGroup('SIGKILL'),
      Math.min(Math.max(0, this.killGraceMs), MAX_TIMER_MS),
    );
  }

  private async onExit(code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    if (this.settled) return;
    this.exited = true;
    this.clearTimers();
    this.signalGroup('SIGKILL');
    const child = this.child;
    if (child) {
      await drain([child.stdout, child.stderr], OUTPUT_DRAIN_MS);
      child.stdout.destroy();
      child.stderr.destroy();
      child.stdin.destroy();
    }

    if (this.stopping) {
      this.settle(this.outcome(this.stopping.status, code, this.stopping.error));
    } else if (code === 0) {
      this.settle(this.outcome('succeeded', 0, null));
    } else if (code !== null) {
      this.settle(this.outcome('failed', code, `exit code ${code}`));
    } else {
      this.settle(this.outcome('failed', null, `killed by ${signal ?? 'an unknown signal'}`));
    }
  }

  private signalGroup(signal: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // ESRCH: the group is already gone, which is the goal.
    }
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
    this.timeoutTimer = null;
    this.graceTimer = null;
  }
}

/** Resolves once every stream has ended, or after `maxMs`, whichever is first. */
async function drain(streams: NodeJS.ReadableStream[], maxMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, maxMs)));
  try {
    await Promise.race([Promise.allSettled(streams.map((s) => finished(s))), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

function errorMessage(err: unknown): string {
  const message = (err as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : String(err);
}
