import { Injectable } from '@nestjs/common';
import { ChildProcess, spawn } from 'node:child_process';
import { chownSync, mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { commandAllowed } from './command-glob';
import { OutputBuffer } from './output-buffer';
import { PARENT_ENV_PREFIX, putParentEnv } from './parent-env';
import { ContainmentMode, NO_ISOLATION, PERL, TaskIsolation, TaskUser } from './task-isolation';
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
 * Starts the command, in both modes: closes every inherited file descriptor but 0, 1 and 2 (the executor's parent may
 * have left some open, and node only marks its own close-on-exec), switches to `[executor] run_as` (uid, gid and the
 * supplementary groups resolved at start; the root-only switch happens here because setpriv cannot close fds), enters
 * the run's directory as that user, and execs `/bin/sh -c command`.
 *
 * As `init` it is PID 1 of the run's PID namespace instead: it forks the task and waits. The task must not be PID 1
 * itself, because the kernel drops every signal PID 1 has no handler for (pid_namespaces(7)): a task's SIGTERM on
 * cancel and its own `kill -USR1 $$` would be ignored. PID 1 cannot die of a signal either, so it reports the task's
 * exact wait status on fd 3 (which the task never gets) and the executor reads it there. Its exit ends the namespace:
 * the kernel SIGKILLs whatever is left in it, setsid or not.
 *
 * Perl because it is Essential on Debian (perl-base) and does all of this in one exec. Builtins only: `use POSIX`
 * alone costs ~15 ms of CPU per run. Closing goes through fdopen ('<&='); ($<, $>) = ... is setreuid(2), which as root
 * sets the real, effective and saved uid, so the switch cannot be undone (the groups likewise, setgroups first).
 */
export const TASK_START = `use strict;
my ($role, $uid, $gid, $groups, $cwd, $command) = @ARGV;
sub start_task {
  opendir(my $fds, '/proc/self/fd') or die "gocron: cannot list /proc/self/fd: $!\\n";
  my @inherited = grep { /^\\d+$/ && $_ > 2 } readdir $fds;
  closedir $fds;
  for my $fd (@inherited) { open(my $h, '<&=', $fd) or next; close $h; }
  if ($uid ne '') {
    ($(, $)) = ($gid, "$gid $gid $groups");
    ($<, $>) = ($uid, $uid);
    die "gocron: could not switch to run_as: $!\\n" if $< != $uid || $> != $uid || $( != $gid || $) != $gid;
  }
  chdir $cwd or die "gocron: cannot enter the working directory: $!\\n";
  exec { '/bin/sh' } 'sh', '-c', $command;
  die "gocron: cannot run /bin/sh: $!\\n";
}
start_task() if $role eq 'task';
my $pid = fork() // die "gocron: fork: $!\\n";
if ($pid == 0) { open(STDIN, '<', '/dev/null'); start_task(); }
waitpid($pid, 0);
my $sig = $? & 127;
if (open(my $report, '>&=', 3)) { syswrite($report, $sig ? "signal $sig" : 'exit ' . ($? >> 8)); }
exit($sig ? 128 + $sig : $? >> 8);
`;

/**
 * Process-group mode: runs the task so that its process group dies with the executor, even when the executor is
 * SIGKILLed: a task left running beside its retry would be a duplicate run. Node cannot set PR_SET_PDEATHSIG, so the
 * group watches for it itself.
 *
 * - stdin is a pipe the executor holds open and never writes; it reaches EOF only when the executor is gone. It moves
 *   to fd 3 because POSIX sh gives background jobs /dev/null as stdin.
 * - The watcher reads fd 3 until EOF, then SIGKILLs its own group. It ignores SIGTERM so that it keeps guarding the
 *   task through the kill grace. Its output goes to /dev/null so that it never holds the task's output pipes open.
 * - The task is exec'ed (through TASK_START) rather than waited for: the spawned pid then is the command's shell, so
 *   its exit code and any killing signal reach the executor exactly (a waiting wrapper would fold a signal into
 *   128+N). It gets /dev/null as stdin and no fd 3, so the task cannot end or consume the watchdog pipe.
 *
 * Only builtins and absolute paths are used, so a job's own PATH cannot break the watchdog.
 */
export const SHELL_WRAPPER = [
  'exec 3<&0',
  "( trap '' HUP INT TERM; while read -r line; do :; done <&3; kill -KILL 0 ) </dev/null >/dev/null 2>&1 &",
  `exec ${PERL} -e "$2" -- task "$3" "$4" "$5" "$6" "$1" </dev/null 3<&-`,
].join('\n');

/**
 * PID-namespace mode: setpriv sets PR_SET_PDEATHSIG on the process node spawns and execs unshare in it, so it dies
 * with the executor (SIGKILL included); unshare's --kill-child passes that on to the namespace's PID 1, and PID 1's
 * death kills the namespace. --mount-proc gives the run its own /proc (in a private mount namespace), where the
 * executor's pid does not exist. unshare ignores SIGTERM, so a cancel's SIGTERM reaches the task (same process group)
 * while PID 1 keeps waiting; the SIGKILL after the grace ends unshare and with it the namespace.
 */
const NAMESPACE_CHAIN = [
  '--pdeathsig',
  'KILL',
  '/usr/bin/unshare',
  '--pid',
  '--fork',
  '--kill-child=SIGKILL',
  '--mount-proc',
];

/** Where and as whom one run starts. */
export interface SpawnPlan {
  mode: ContainmentMode;
  user: TaskUser | null;
  cwd: string;
}

export interface ShellSpawn {
  file: string;
  args: string[];
  /** Plain data, so that it can be handed to another process as JSON. */
  options: {
    env: Record<string, string>;
    detached: true;
    stdio: ['pipe', 'pipe', 'pipe'] | ['ignore', 'pipe', 'pipe', 'pipe'];
  };
}

/** `detached` puts the run in its own process group, which is what timeouts, cancels and the watchdog kill. */
export function buildShellSpawn(command: string, env: Record<string, string>, plan: SpawnPlan): ShellSpawn {
  const who = plan.user ? [String(plan.user.uid), String(plan.user.gid), plan.user.groups.join(' ')] : ['', '', ''];
  if (plan.mode === 'pid-namespace') {
    return {
      file: '/usr/bin/setpriv',
      args: [...NAMESPACE_CHAIN, PERL, '-e', TASK_START, '--', 'init', ...who, plan.cwd, command],
      options: { env, detached: true, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] },
    };
  }
  return {
    file: '/bin/sh',
    args: ['-c', SHELL_WRAPPER, 'gocron-task', command, TASK_START, ...who, plan.cwd],
    options: { env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] },
  };
}

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

@Injectable()
export class ShellRunner {
  constructor(private readonly isolation: TaskIsolation = NO_ISOLATION) {}

  start(ctx: RunContext, task: ShellTask, opts: ShellRunOptions = {}): RunningTask {
    return new ShellRun(ctx, task, this.isolation, opts.killGraceMs ?? DEFAULT_KILL_GRACE_MS);
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

/**
 * One run. The command's shell is the group leader and its exit ends the run: whatever else is left in the group
 * (background children, the watcher) is SIGKILLed then, so a run ends with its processes.
 */
class ShellRun implements RunningTask {
  readonly done: Promise<TaskResult>;
  private resolveDone!: (outcome: TaskResult) => void;
  private readonly output = new OutputBuffer();
  private child: ChildProcess | null = null;
  /** PID 1's report of the task's wait status (pid-namespace mode). */
  private report = '';
  private dir: { cwd: string; temporary: boolean } | null = null;
  private stopping: { status: 'timed_out' | 'cancelled'; error: string } | null = null;
  private exited = false;
  private settled = false;
  private timeoutTimer: NodeJS.Timeout | null = null;
  private graceTimer: NodeJS.Timeout | null = null;

  constructor(
    ctx: RunContext,
    task: ShellTask,
    isolation: TaskIsolation,
    private readonly killGraceMs: number,
  ) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    if (!commandAllowed(task.command, isolation.allowedCommands)) {
      this.settle(this.outcome('failed', null, NOT_ALLOWED));
      return;
    }

    let child: ChildProcess;
    try {
      this.dir = runDirectory(isolation);
      const plan = { mode: isolation.mode, user: isolation.user, cwd: this.dir.cwd };
      const spec = buildShellSpawn(task.command, buildTaskEnv(ctx, task.env, process.env, isolation.user), plan);
      child = spawn(spec.file, spec.args, spec.options);
    } catch (err) {
      // Invalid arguments (such as a NUL byte in the environment) throw instead of emitting 'error'.
      void this.finish(this.outcome('failed', null, `could not start: ${errorMessage(err)}`));
      return;
    }
    this.child = child;

    const live = ctx.onOutput ?? (() => undefined);
    const capture = (chunk: Buffer) => {
      this.output.append(chunk);
      live(chunk);
    };
    child.stdout?.on('data', capture);
    child.stderr?.on('data', capture);
    const report = child.stdio[3] as Readable | undefined;
    report?.on('data', (chunk: Buffer) => (this.report += chunk.toString()));
    // A pipe error (EPIPE on closing stdin once the group is gone) must not crash the executor; 'exit' ends the run.
    for (const stream of child.stdio) stream?.on('error', () => undefined);

    child.once('error', (err) => {
      if (!this.exited) void this.finish(this.outcome('failed', null, `could not start: ${err.message}`));
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
      await drain(
        child.stdio.filter((s): s is Readable => s instanceof Readable),
        OUTPUT_DRAIN_MS,
      );
      for (const stream of child.stdio) stream?.destroy();
    }
    [code, signal] = taskStatus(this.report, code, signal);

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
