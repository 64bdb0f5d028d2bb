import { ChildProcess, spawn } from 'node:child_process';
import { ContainmentMode, PERL } from './task-isolation';

/**
 * Starts a shell task in the run's process group (or PID namespace): closes every inherited file descriptor above
 * `$keep` (the executor's parent may have left some open, and node only marks its own close-on-exec), switches to
 * `[executor] run_as` (uid, gid and the supplementary groups resolved at start), enters the run's directory as that
 * user, and execs `/bin/sh -c command`. Builtins only, so that PID 1 of a namespace (TASK_START) loads nothing: `use
 * POSIX` alone costs ~15 ms of CPU. Closing goes through fdopen ('<&='); ($<, $>) = ... is setreuid(2), which as root
 * sets the real, effective and saved uid, so the switch cannot be undone (the groups likewise, setgroups first).
 */
const START_TASK = `sub close_inherited {
  my ($keep) = @_;
  opendir(my $fds, '/proc/self/fd') or die "gocron: cannot list /proc/self/fd: $!\\n";
  my @inherited = grep { /^\\d+$/ && $_ > $keep } readdir $fds;
  closedir $fds;
  for my $fd (@inherited) { open(my $h, '<&=', $fd) or next; close $h; }
}
sub start_task {
  my ($keep, $uid, $gid, $groups, $cwd, $command) = @_;
  close_inherited($keep) if $keep >= 0;
  if ($uid ne '') {
    ($(, $)) = ($gid, "$gid $gid $groups");
    ($<, $>) = ($uid, $uid);
    die "gocron: could not switch to run_as: $!\\n" if $< != $uid || $> != $uid || $( != $gid || $) != $gid;
  }
  chdir $cwd or die "gocron: cannot enter the working directory: $!\\n";
  exec { '/bin/sh' } 'sh', '-c', $command;
  die "gocron: cannot run /bin/sh: $!\\n";
}
`;

/**
 * PID 1 of a run's PID namespace: it forks the task and waits. The task must not be PID 1 itself, because the kernel
 * drops every signal PID 1 has no handler for (pid_namespaces(7)): a task's SIGTERM on cancel and its own `kill -USR1
 * $$` would be ignored. PID 1 cannot die of a signal either, so it reports the task's exact wait status on fd 3 (which
 * the task never gets) and the helper passes it on. Its exit ends the namespace: the kernel SIGKILLs whatever is left
 * in it, setsid or not.
 */
export const TASK_START = `use strict;
${START_TASK}
my ($uid, $gid, $groups, $cwd, $command) = @ARGV;
my $pid = fork() // die "gocron: fork: $!\\n";
if ($pid == 0) { open(STDIN, '<', '/dev/null'); start_task(2, $uid, $gid, $groups, $cwd, $command); }
waitpid($pid, 0);
my $sig = $? & 127;
if (open(my $report, '>&=', 3)) { syswrite($report, $sig ? "signal $sig" : 'exit ' . ($? >> 8)); }
exit($sig ? 128 + $sig : $? >> 8);
`;

/**
 * PID-namespace mode: setpriv sets PR_SET_PDEATHSIG on the process the helper forks and execs unshare in it, so it
 * dies with the helper (SIGKILL included); unshare's --kill-child passes that on to the namespace's PID 1, and PID 1's
 * death kills the namespace. --mount-proc gives the run its own /proc (in a private mount namespace), where the
 * executor's pid does not exist. unshare ignores SIGTERM, so a cancel's SIGTERM reaches the task (same process group)
 * while PID 1 keeps waiting; the SIGKILL after the grace ends unshare and with it the namespace.
 */
export const NAMESPACE_CHAIN = [
  '/usr/bin/setpriv',
  '--pdeathsig',
  'KILL',
  '/usr/bin/unshare',
  '--pid',
  '--fork',
  '--kill-child=SIGKILL',
  '--mount-proc',
];

/**
 * The spawn helper: one small long-lived perl process per executor that forks every shell task, so that a run costs
 * a fork of a few-megabyte process instead of one of the executor's hundreds of megabytes, and one process watches
 * over all tasks instead of a watcher subshell per task.
 *
 * - It reads requests on stdin, a pipe only the executor holds: EOF means the executor is gone (SIGKILL included),
 *   and the helper then SIGKILLs every task's process group, and every process it adopted as their subreaper, and
 *   exits. It ignores HUP, INT and TERM: it outlives the executor's own shutdown only until that EOF.
 * - Each task is a process group of its own (its shell the leader) with stdin /dev/null and one pipe for stdout and
 *   stderr, which the helper relays in arrival order. When the leader exits, the group is SIGKILLed (whatever it left
 *   in the background ends with the run), the pipe read until EOF, for 250 ms or 1 MiB more (a process that left the
 *   group can hold it open and write forever), then the exit is reported.
 * - Where the architecture is known it is the tasks' child subreaper (PR_SET_CHILD_SUBREAPER), so that a daemonising
 *   task's orphans come to it instead of init, and die with it.
 *
 * Requests (executor → helper): `S <id> <len>\n` and <len> bytes of NUL-terminated fields (mode, uid, gid, groups,
 * cwd, command, then NAME=VALUE for the environment); `K <id> <signal number>\n` signals the run's group.
 * Events (helper → executor): `P <id> <pid>\n` started; `O <id> <len>\n` and <len> bytes of output; `X <id> <wait
 * status> <report or ->\n` ended (the report is PID 1's in namespace mode); `F <id> <len>\n` and a message: could not
 * start.
 *
 * Builtins and POSIX only (perl-base, Essential on Debian). `R\n` once set up: a helper that dies before it could
 * not start at all.
 */
export const SPAWN_HELPER = `use strict;
use POSIX ();
${START_TASK}
my ($task_start, $prctl, $clone, $mount) = @ARGV;
$SIG{$_} = 'IGNORE' for qw(HUP INT TERM PIPE);
my $helper_pid = $$;
# Once, here: whatever the executor's parent left open. Everything the helper opens after this is close-on-exec
# (perl marks every descriptor above $^F, 2), so a task gets only 0, 1 and 2 without a scan per run.
close_inherited(2);
syscall($prctl, 36, 1, 0, 0, 0) if $prctl;
my $hz = POSIX::sysconf(POSIX::_SC_CLK_TCK()) || 100;
# Monotonic seconds at 1/100 s: the elapsed real time times(2) returns (Time::HiRes is not in perl-base).
sub now { return (POSIX::times())[0] / $hz; }
my $chld = 0;
$SIG{CHLD} = sub { $chld = 1 };
# Runs by id, run ids by leader pid, [id, key] by descriptor, ids of runs whose leader exited (being drained).
my (%runs, %by_pid, %by_fd, %draining);
my ($input, $more, $rbits) = ('', 0, '');
vec($rbits, 0, 1) = 1;
binmode STDIN; binmode STDOUT;

sub emit {
  my ($data) = @_;
  my $off = 0;
  while ($off < length $data) {
    my $n = syswrite(STDOUT, $data, length($data) - $off, $off);
    if (!defined $n) { next if $!{EINTR}; finish_all(); }
    $off += $n;
  }
}

sub descends {
  my ($p, $parent) = @_;
  for (1 .. 4096) {
    $p = $parent->{$p} // 0;
    return 1 if $p == $helper_pid;
    return 0 if $p <= 1;
  }
  return 0;
}

# The executor is gone: every task group, then every process descending from the helper however deep (a chain of
# setsid children included: one /proc scan finds them all by their parent links), stopped first so that none forks
# meanwhile, then killed; again until none is left (for at most 5 s).
sub finish_all {
  for my $run (values %runs) { kill('KILL', -$run->{pid}) if $run->{pid}; }
  my $until = now() + 5;
  while (1) {
    1 while waitpid(-1, POSIX::WNOHANG()) > 0;
    my (%parent, %state);
    if (opendir(my $proc, '/proc')) {
      for my $p (grep { /^\\d+$/ } readdir $proc) {
        open(my $st, '<', "/proc/$p/stat") or next;
        my $line = <$st> // '';
        close $st;
        ($state{$p}, $parent{$p}) = ($1, $2) if $line =~ /.*\\) (\\S) (\\d+)/;
      }
      closedir $proc;
    }
    my @mine = grep { $state{$_} ne 'Z' && descends($_, \\%parent) } keys %parent;
    last if !@mine || now() > $until;
    kill('STOP', @mine);
    kill('KILL', @mine);
    select(undef, undef, undef, 0.01);
  }
  POSIX::_exit(0);
}

sub watch {
  my ($id, $run, $key) = @_;
  my $fd = fileno($run->{$key});
  vec($rbits, $fd, 1) = 1;
  $by_fd{$fd} = [$id, $key];
}

sub start_run {
  my ($id, $payload) = @_;
  my @f = split /\\0/, $payload, -1;
  pop @f;
  my ($mode, $uid, $gid, $groups, $cwd, $command, @env) = @f;
  my ($out_r, $out_w, $rep_r, $rep_w);
  if (!pipe($out_r, $out_w) || ($mode eq 'pid-namespace' && !pipe($rep_r, $rep_w))) {
    my $m = "pipe: $!"; emit("F $id " . length($m) . "\\n$m"); return;
  }
  # In a namespace where the syscalls are known: clone(2) itself, the child PID 1 of new PID and mount namespaces.
  my $init = $mode eq 'pid-namespace' && $clone;
  my $pid = $init ? syscall($clone, 0x20020000 | 17, 0, 0, 0, 0) : fork();
  if (!defined $pid || $pid < 0) {
    my $m = "fork: $!"; emit("F $id " . length($m) . "\\n$m");
    close $_ for grep { defined } ($out_r, $out_w, $rep_r, $rep_w);
    return;
  }
  if ($pid == 0) {
    $SIG{$_} = 'DEFAULT' for qw(HUP INT TERM PIPE CHLD);
    setpgrp(0, 0);
    open(STDIN, '<', '/dev/null');
    POSIX::dup2(fileno($out_w), 1);
    POSIX::dup2(fileno($out_w), 2);
    %ENV = ();
    for (@env) { my ($k, $v) = split /=/, $_, 2; $ENV{$k} = $v; }
    eval {
      if ($mode eq 'pid-namespace') {
        POSIX::dup2(fileno($rep_w), 3);
        be_init($uid, $gid, $groups, $cwd, $command) if $init;
        exec { '${NAMESPACE_CHAIN[0]}' } ${NAMESPACE_CHAIN.map((a) => `'${a}'`).join(', ')},
          '${PERL}', '-e', $task_start, '--', $uid, $gid, $groups, $cwd, $command;
        die "gocron: cannot run setpriv: $!\\n";
      }
      start_task(-1, $uid, $gid, $groups, $cwd, $command);
    };
    syswrite(STDERR, $@ || "gocron: could not start\\n");
    POSIX::_exit(127);
  }
  # Here too, so that a K right after this S finds the group (the child may not have run yet).
  setpgrp($pid, $pid);
  close $out_w;
  close $rep_w if $rep_w;
  my $run = { pid => $pid, out => $out_r, rep => $rep_r, report => '', status => undef, until => 0, budget => 0 };
  $runs{$id} = $run;
  watch($id, $run, 'out');
  watch($id, $run, 'rep') if $rep_r;
  $by_pid{$pid} = $id;
  emit("P $id $pid\\n");
}

# The namespace chain without its execs (setpriv, unshare, perl) and its waiting parent: this process is PID 1 of its
# new PID and mount namespaces (clone(2) made it so) and the run's group leader. It dies with the helper
# (PR_SET_PDEATHSIG), makes every mount private, mounts its own /proc, and then does what TASK_START's PID 1 does.
# SIGTERM from outside does not reach PID 1 without a handler, so a cancel's SIGTERM ends only the task while PID 1
# waits; the SIGKILL after the grace ends PID 1, and with it the namespace.
sub be_init {
  my @task = @_;
  # PID 1 never execs, so close-on-exec closes nothing here: the other runs' pipes go now.
  for my $run (values %runs) { POSIX::close(fileno($run->{$_})) for grep { $run->{$_} } qw(out rep); }
  syscall($prctl, 1, 9, 0, 0, 0) == 0 or die "gocron: prctl: $!\\n";
  # syscall(2) hands strings over as writable buffers: copies, not literals
  my ($none, $root, $proc, $procdir) = ('none', '/', 'proc', '/proc');
  syscall($mount, $none, $root, 0, 0x44000, 0) == 0 or die "gocron: cannot make mounts private: $!\\n";
  syscall($mount, $proc, $procdir, $proc, 14, 0) == 0 or die "gocron: cannot mount /proc: $!\\n";
  my $task = fork() // die "gocron: fork: $!\\n";
  if ($task == 0) { POSIX::close(3); start_task(-1, @task); }
  waitpid($task, 0);
  my $sig = $? & 127;
  if (open(my $report, '>&=', 3)) { syswrite($report, $sig ? "signal $sig" : 'exit ' . ($? >> 8)); }
  POSIX::_exit($sig ? 128 + $sig : $? >> 8);
}

sub reap {
  $chld = 0;
  while ((my $pid = waitpid(-1, POSIX::WNOHANG())) > 0) {
    my $id = delete $by_pid{$pid};
    next unless defined $id;
    my $run = $runs{$id};
    $run->{status} = $?;
    kill('KILL', -$pid);
    # The rest of the output: until EOF, for 250 ms, or 1 MiB, whichever comes first (what left the group can hold
    # the pipe open and write forever).
    $run->{until} = now() + 0.25;
    $run->{budget} = 1 << 20;
    $draining{$id} = 1;
  }
}

sub drop_fh {
  my ($run, $key) = @_;
  my $fd = fileno($run->{$key});
  vec($rbits, $fd, 1) = 0;
  delete $by_fd{$fd};
  close $run->{$key};
  $run->{$key} = undef;
}

sub end_run {
  my ($id) = @_;
  my $run = delete $runs{$id};
  delete $draining{$id};
  drop_fh($run, $_) for grep { $run->{$_} } qw(out rep);
  my $report = $run->{report} =~ /^(exit|signal) \\d+$/ ? $run->{report} : '-';
  $report =~ tr/ /_/;
  emit("X $id $run->{status} $report\\n");
}

sub settle {
  my $t = now();
  for my $id (keys %draining) {
    my $run = $runs{$id};
    end_run($id) if !($run->{out} || $run->{rep}) || $t >= $run->{until} || $run->{budget} <= 0;
  }
}

# At most 16 starts at a time, so that a burst does not keep exits from being reaped and reported meanwhile.
sub handle_input {
  my $starts = 0;
  $more = 0;
  while (1) {
    if ($starts >= 16) {
      $more = 1;
      last;
    }
    if ($input =~ /^S (\\d+) (\\d+)\\n/) {
      my ($id, $len, $head) = ($1, $2, length($&));
      last if length($input) < $head + $len;
      my $payload = substr($input, $head, $len);
      substr($input, 0, $head + $len) = '';
      start_run($id, $payload);
      $starts++;
    } elsif ($input =~ /^K (\\d+) (\\d+)\\n/) {
      my ($id, $sig) = ($1, $2);
      substr($input, 0, length($&)) = '';
      my $run = $runs{$id};
      next unless $run;
      kill($sig, -$run->{pid});
      # A SIGKILL while draining: what still writes has left the group; stop reading it.
      end_run($id) if defined $run->{status} && $sig == 9;
    } elsif ($input =~ /\\n/ || length($input) > 64) {
      finish_all();
    } else {
      last;
    }
  }
}

emit("R\\n");
while (1) {
  handle_input() if $more;
  reap() if $chld;
  settle() if %draining;
  # A leader's exit is noticed by SIGCHLD interrupting select; the timeout bounds the rare signal that arrives just
  # before it. Drains are timed by now(), so they wake the loop too.
  my $timeout = %draining ? 0.01 : %by_pid ? 0.02 : undef;
  $timeout = 0 if $more;
  my $n = select(my $ready = $rbits, undef, undef, $timeout);
  next if $n <= 0;
  my $bits = unpack('b*', $ready);
  my $stdin = substr($bits, 0, 1) eq '1';
  pos($bits) = 1;
  while ($bits =~ /1/g) {
    my $w = $by_fd{pos($bits) - 1} or next;
    my ($id, $key) = @$w;
    my $run = $runs{$id} or next;
    my $got = sysread($run->{$key}, my $chunk, $key eq 'out' ? 65536 : 64);
    if (!$got) {
      drop_fh($run, $key) if defined $got || !$!{EINTR};
    } elsif ($key eq 'rep') {
      $run->{report} .= $chunk if length($run->{report}) < 64;
    } else {
      emit("O $id $got\\n$chunk");
      $run->{budget} -= $got if defined $run->{status};
    }
  }
  # Last: a start opens descriptors, which may take the numbers of ones just closed above.
  if ($stdin) {
    my $got = sysread(STDIN, $input, 65536, length $input);
    finish_all() if defined $got && $got == 0;
    handle_input() if $got;
  }
}
`;

/**
 * Syscall numbers (prctl, clone, mount) where they are known: prctl for PR_SET_CHILD_SUBREAPER and the death
 * signal, the three for starting a run's PID namespace without the setpriv/unshare/perl chain. Elsewhere 0: no
 * subreaper, and namespaces through the chain; every other guarantee holds.
 */
const SYSCALLS: Partial<Record<NodeJS.Architecture, [number, number, number]>> = {
  x64: [157, 56, 165],
  arm64: [167, 220, 40],
};

/** perl's arguments for the helper. `direct`: enter namespaces itself where the syscall numbers are known. */
export function helperArgs(arch: string = process.arch, direct = true): string[] {
  const [prctl, clone, mount] = SYSCALLS[arch as NodeJS.Architecture] ?? [0, 0, 0];
  return ['-e', SPAWN_HELPER, TASK_START, String(prctl), String(direct ? clone : 0), String(mount)];
}

/** Where and as whom one run starts: plain data, given to the helper. */
export interface SpawnRequest {
  mode: ContainmentMode;
  /** Empty strings: no user switch. */
  uid: string;
  gid: string;
  groups: string;
  cwd: string;
  command: string;
  env: Record<string, string>;
}

/** What the helper tells about one run. */
export interface SpawnEvents {
  output(chunk: Buffer): void;
  /** The leader's wait status, and PID 1's report in namespace mode. */
  exited(code: number | null, signal: number | null, report: string): void;
  /** Not started, or lost with the helper: the message says which. */
  failed(message: string, lost: boolean): void;
}

interface Pending {
  events: SpawnEvents;
  pid?: number;
}

/** One helper process and what it holds: its runs, and what it sent that is not parsed yet. */
interface HelperProcess {
  child: ChildProcess;
  runs: Map<number, Pending>;
  buffer: Buffer;
  /** It sent `R`: it started; a helper that dies before could not start at all. */
  ready: boolean;
  gone: boolean;
}

/** Fields go NUL-terminated; execve itself cannot carry a NUL, so one is refused here, naming where it is. */
export function encodeSpawn(id: number, req: SpawnRequest): Buffer {
  const fields = [req.mode, req.uid, req.gid, req.groups, req.cwd, req.command];
  for (const [name, value] of Object.entries(req.env)) {
    if (name.includes('=') || name === '') throw new Error(`environment variable name '${name}' is not valid`);
    fields.push(`${name}=${value}`);
  }
  const bad = fields.findIndex((f) => f.includes('\0'));
  if (bad >= 0) {
    const what =
      bad === 5 ? 'the command' : bad === 4 ? 'the working directory' : `environment ${fields[bad].split('=')[0]}`;
    throw new Error(`${what} contains a NUL byte`);
  }
  const payload = Buffer.from(fields.map((f) => `${f}\0`).join(''));
  return Buffer.concat([Buffer.from(`S ${id} ${payload.length}\n`), payload]);
}

const SIGNALS = { SIGTERM: 15, SIGKILL: 9 } as const;

/**
 * The executor's side of the spawn helper: starts it on the first run, multiplexes runs over its pipes, and starts
 * a new one if it dies. A helper that dies takes its runs with it: their process groups are SIGKILLed from here and
 * each run is reported lost (the job's retries apply), never left running beside its retry. Each helper has its own
 * parser and runs, so that what a dead one sent last is never read as a new one's.
 */
export class SpawnHelper {
  private current: HelperProcess | null = null;
  /** The helper each run was given to. */
  private readonly owner = new Map<number, HelperProcess>();
  private nextId = 1;

  /** `direct`: false makes namespaces go through the setpriv/unshare/perl chain (tests, measurements). */
  constructor(
    private readonly direct = true,
    private readonly perl: string = PERL,
  ) {}

  /** Pid of the helper process (tests); null before the first run or after it died. */
  get pid(): number | null {
    return this.current?.child.pid ?? null;
  }

  /** Throws when the request cannot be encoded (a NUL byte); the helper's own failures arrive as `failed`. */
  spawn(req: SpawnRequest, events: SpawnEvents): number {
    const id = this.nextId++;
    const frame = encodeSpawn(id, req);
    const helper = this.current ?? this.startHelper();
    helper.runs.set(id, { events });
    this.owner.set(id, helper);
    this.refresh();
    helper.child.stdin!.write(frame);
    return id;
  }

  signal(id: number, signal: keyof typeof SIGNALS): void {
    const helper = this.owner.get(id);
    if (helper && !helper.gone) helper.child.stdin!.write(`K ${id} ${SIGNALS[signal]}\n`);
  }

  /**
   * Gives a run up without waiting for the helper (a stopped run whose end never came): its group is SIGKILLed from
   * here and nothing more of it is reported.
   */
  abandon(id: number): void {
    const helper = this.owner.get(id);
    const run = helper?.runs.get(id);
    if (!helper || !run) return;
    this.end(helper, id);
    killGroup(run.pid);
  }

  /** Ends the helper (its tasks are SIGKILLed): for tests and shutdown; a later spawn starts a new one. */
  close(): void {
    this.current?.child.stdin?.end();
  }

  private startHelper(): HelperProcess {
    const child = spawn(this.perl, helperArgs(process.arch, this.direct), {
      stdio: ['pipe', 'pipe', 'inherit'],
      detached: true,
      env: { PATH: '/usr/bin:/bin' },
    });
    const helper: HelperProcess = { child, runs: new Map(), buffer: Buffer.alloc(0), ready: false, gone: false };
    this.current = helper;
    child.stdout.on('data', (chunk: Buffer) => this.read(helper, chunk));
    child.stdin.on('error', () => undefined);
    // New runs go to a new helper from its exit on; its runs are settled once its output is read to the end.
    child.once('exit', () => this.retire(helper));
    child.once('error', (err) => this.lose(helper, err.message));
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) =>
      this.lose(helper, signal ?? `exit code ${code}`),
    );
    return helper;
  }

  private retire(helper: HelperProcess): void {
    helper.gone = true;
    if (this.current === helper) this.current = null;
  }

  /** Every run of a dead helper: its group SIGKILLed (its pid is known once started), the run lost. */
  private lose(helper: HelperProcess, how: string): void {
    this.retire(helper);
    const message = helper.ready
      ? `the spawn helper exited (${how})`
      : `the spawn helper failed at start (${how}; its stderr is in the executor's log)`;
    const runs = [...helper.runs.entries()];
    for (const [id] of runs) this.end(helper, id);
    for (const [, run] of runs) {
      killGroup(run.pid);
      run.events.failed(message, helper.ready);
    }
  }

  /** The current helper's handles keep the process alive while any run is held, and only then. */
  private refresh(): void {
    const child = this.current?.child;
    if (!child) return;
    const on = this.owner.size > 0;
    for (const handle of [child, child.stdin, child.stdout] as ({ ref(): void; unref(): void } | null)[]) {
      if (on) handle?.ref();
      else handle?.unref();
    }
  }

  private read(helper: HelperProcess, chunk: Buffer): void {
    let buffer = helper.buffer.length ? Buffer.concat([helper.buffer, chunk]) : chunk;
    let at = 0;
    for (;;) {
      const nl = buffer.indexOf(10, at);
      if (nl < 0) break;
      const head = buffer.toString('latin1', at, nl).split(' ');
      const [kind, idText] = head;
      const id = Number(idText);
      if (kind === 'O' || kind === 'F') {
        const len = Number(head[2]);
        if (buffer.length < nl + 1 + len) break;
        const body = buffer.subarray(nl + 1, nl + 1 + len);
        at = nl + 1 + len;
        const run = helper.runs.get(id);
        if (kind === 'O') run?.events.output(Buffer.from(body));
        else if (run) this.end(helper, id).failed(body.toString(), false);
        continue;
      }
      at = nl + 1;
      if (kind === 'R') helper.ready = true;
      const run = helper.runs.get(id);
      if (!run) continue;
      if (kind === 'P') {
        run.pid = Number(head[2]);
      } else if (kind === 'X') {
        const status = Number(head[2]);
        const signal = status & 0x7f;
        const report = head[3] === '-' ? '' : head[3].replace('_', ' ');
        this.end(helper, id).exited(signal ? null : status >> 8, signal || null, report);
      }
    }
    buffer = buffer.subarray(at);
    helper.buffer = buffer;
  }

  private end(helper: HelperProcess, id: number): SpawnEvents {
    const run = helper.runs.get(id)!;
    helper.runs.delete(id);
    this.owner.delete(id);
    this.refresh();
    return run.events;
  }
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
