import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTaskEnv, NOT_ALLOWED, ShellRunner, spawnRequest, taskStatus } from './shell-runner';
import { encodeSpawn, helperArgs, SpawnHelper } from './spawn-helper';
import { ContainmentMode, NO_ISOLATION, PERL, systemProbe } from './task-isolation';
import { RunContext } from './task-runner';

const HAS_PROC = existsSync('/proc/self/stat');
/** The helper is the tasks' subreaper where prctl's number is known. */
const PRCTL_KNOWN = helperArgs()[3] !== '0';
const HAS_PID_NAMESPACE = systemProbe.isRoot() && systemProbe.canUsePidNamespace();
/** [mode, direct]: a namespace entered by the helper itself, or through the setpriv/unshare/perl chain. */
const MODES: [ContainmentMode, boolean][] = HAS_PID_NAMESPACE
  ? [
      ['process-group', true],
      ['pid-namespace', true],
      ['pid-namespace', false],
    ]
  : [['process-group', true]];
if (!HAS_PID_NAMESPACE) {
  process.stderr.write(
    'shell-runner.spec: no PID namespace here (not root or no CAP_SYS_ADMIN): that mode is skipped\n',
  );
}

/** Pids (as this test sees them) of live processes whose command line contains `marker`. */
function pidsOf(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').includes(marker)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids.filter(isAlive);
}

let markerCount = 0;
/** A sleep whose duration is unique, so that its command line finds it from outside a PID namespace too. */
function markedSleep(): string {
  return `300.${process.pid}${++markerCount}`;
}

function ctx(overrides: Partial<RunContext> = {}): RunContext {
  return { runId: 42, jobId: 7, scheduledAt: '2026-01-02T03:04:05.000Z', attempt: 2, timeoutMs: 10_000, ...overrides };
}

/** Zombies count as dead: whoever inherits an orphan reaps it on its own schedule. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  if (!HAS_PROC) return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
}

async function waitFor<T>(probe: () => T | undefined | false, timeoutMs = 3000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe.each(MODES)('ShellRunner (%s, helper enters it itself: %s)', (mode, direct) => {
  const runner = new ShellRunner({ ...NO_ISOLATION, mode }, new SpawnHelper(direct));
  afterAll(() => runner.close());
  let dir: string;
  let pidFile: string;
  const stray: number[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gocron-shell-'));
    pidFile = join(dir, 'pids');
  });

  afterEach(() => {
    // A failed assertion must not leave sleeps behind.
    for (const pid of stray.splice(0)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('succeeds with exit code 0 and captures stdout', async () => {
    const outcome = await runner.start(ctx(), { command: 'echo hello', env: {} }).done;
    expect(outcome).toEqual({
      status: 'succeeded',
      exitCode: 0,
      httpStatus: null,
      output: 'hello\n',
      outputTruncated: false,
      error: null,
    });
  });

  it('fails with the exact exit code', async () => {
    const outcome = await runner.start(ctx(), { command: 'echo partial; exit 3', env: {} }).done;
    expect(outcome).toMatchObject({ status: 'failed', exitCode: 3, error: 'exit code 3', output: 'partial\n' });
  });

  it('captures stderr interleaved with stdout', async () => {
    const outcome = await runner.start(ctx(), {
      command: 'echo out1; sleep 0.05; echo err >&2; sleep 0.05; echo out2',
      env: {},
    }).done;
    expect(outcome.status).toBe('succeeded');
    expect(outcome.output).toBe('out1\nerr\nout2\n');
  });

  it('reports a task killed by a signal it did not get from us', async () => {
    const outcome = await runner.start(ctx(), { command: 'kill -USR1 $$', env: {} }).done;
    expect(outcome).toMatchObject({ status: 'failed', exitCode: null, error: 'killed by SIGUSR1' });
  });

  it('gives the task no stdin', async () => {
    const outcome = await runner.start(ctx(), { command: 'cat; echo "read $?"', env: {} }).done;
    expect(outcome).toMatchObject({ status: 'succeeded', output: 'read 0\n' });
  });

  describe('environment', () => {
    const saved = { ...process.env };

    afterEach(() => {
      process.env = { ...saved };
    });

    it('passes only the safe base, the job env and the run variables', async () => {
      process.env.GOCRON_DATABASE_PASSWORD = 'secret';
      process.env.SOME_TOKEN = 'also-secret';
      process.env.LANG = 'C.UTF-8';
      const outcome = await runner.start(ctx(), {
        command: 'env',
        env: { FOO: 'bar baz', GOCRON_RUN_ID: 'spoofed' },
      }).done;
      expect(outcome.status).toBe('succeeded');
      const seen = new Map(
        outcome.output
          .split('\n')
          .filter(Boolean)
          .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
      );
      expect(outcome.output).not.toContain('secret');
      expect(seen.get('FOO')).toBe('bar baz');
      expect(seen.get('LANG')).toBe('C.UTF-8');
      expect(seen.get('GOCRON_JOB_ID')).toBe('7');
      expect(seen.get('GOCRON_RUN_ID')).toBe('42');
      expect(seen.get('GOCRON_SCHEDULED_AT')).toBe('2026-01-02T03:04:05.000Z');
      expect(seen.get('GOCRON_ATTEMPT')).toBe('2');
      // The shell itself may add PWD and the like; nothing else may come from the executor.
      const allowed = new Set(['PATH', 'HOME', 'LANG', 'TZ', 'FOO', 'PWD', 'OLDPWD', 'SHLVL', '_']);
      const unexpected = [...seen.keys()].filter((name) => !allowed.has(name) && !name.startsWith('GOCRON_'));
      expect(unexpected).toEqual([]);
      expect([...seen.keys()].filter((name) => name.startsWith('GOCRON_')).sort()).toEqual([
        'GOCRON_ATTEMPT',
        'GOCRON_JOB_ID',
        'GOCRON_RUN_ID',
        'GOCRON_SCHEDULED_AT',
      ]);
    });

    it('gives run_as its own HOME', () => {
      const user = { name: 'u', uid: 1, gid: 1, groups: [1], home: '/home/u' };
      expect(buildTaskEnv(ctx(), {}, { HOME: '/root' }, user).HOME).toBe('/home/u');
    });

    it('builds exactly the documented environment', () => {
      const env = buildTaskEnv(
        ctx(),
        { PATH: '/opt/bin', X: '1' },
        {
          HOME: '/home/gocron',
          TZ: 'UTC',
          GOCRON_DATABASE_PASSWORD: 'secret',
          USER: 'root',
        },
      );
      expect({ ...env }).toEqual({
        PATH: '/opt/bin',
        HOME: '/home/gocron',
        TZ: 'UTC',
        X: '1',
        GOCRON_JOB_ID: '7',
        GOCRON_RUN_ID: '42',
        GOCRON_SCHEDULED_AT: '2026-01-02T03:04:05.000Z',
        GOCRON_ATTEMPT: '2',
      });
      expect(buildTaskEnv(ctx(), {}, {}).PATH).toBe('/usr/local/bin:/usr/bin:/bin');
    });
  });

  it('on timeout kills the command and its background children, setsid ones too in a PID namespace', async () => {
    const [bg, escaped, fg] = [markedSleep(), markedSleep(), markedSleep()];
    const task = runner.start(ctx({ timeoutMs: 1000 }), {
      command: `sleep ${bg} & setsid sleep ${escaped} & exec sleep ${fg}`,
      env: {},
    });
    const [background, foreground, outside] = await waitFor(
      () => {
        const found = [pidsOf(bg), pidsOf(fg), pidsOf(escaped)];
        return found.every((p) => p.length === 1) && found.map((p) => p[0]);
      },
      3000,
      'the three sleeps',
    );
    stray.push(background, foreground, outside);

    const outcome = await task.done;
    expect(outcome).toMatchObject({ status: 'timed_out', error: 'timed out after 1000 ms' });
    await waitFor(() => !isAlive(background) && !isAlive(foreground), 2000, 'both sleeps to die');
    if (mode === 'pid-namespace') await waitFor(() => !isAlive(outside), 2000, 'the setsid sleep to die');
    else expect(isAlive(outside)).toBe(true); // what process-group mode cannot contain, as its warning says
  });

  it('cancels with the given reason, or "cancelled"', async () => {
    const marker = markedSleep();
    const task = runner.start(ctx(), { command: `exec sleep ${marker}`, env: {} });
    const [pid] = await waitFor(() => pidsOf(marker).length === 1 && pidsOf(marker), 3000, 'the sleep');
    stray.push(pid);
    task.cancel('operator asked');
    task.cancel('second reason is ignored');
    expect(await task.done).toMatchObject({ status: 'cancelled', exitCode: null, error: 'operator asked' });
    await waitFor(() => !isAlive(pid), 2000, 'the sleep to die');

    const other = runner.start(ctx(), { command: 'sleep 100', env: {} });
    other.cancel();
    expect(await other.done).toMatchObject({ status: 'cancelled', error: 'cancelled' });
  });

  it('ignores cancel after the run finished', async () => {
    const task = runner.start(ctx(), { command: 'true', env: {} });
    const outcome = await task.done;
    task.cancel();
    expect(outcome.status).toBe('succeeded');
    expect(await task.done).toBe(outcome);
  });

  it('SIGKILLs a task that survives SIGTERM once the grace is over', async () => {
    const started = Date.now();
    const task = runner.start(
      ctx({ timeoutMs: 200 }),
      {
        command: `trap 'echo got TERM' TERM; echo started; while :; do sleep 0.02; done`,
        env: {},
      },
      { killGraceMs: 400 },
    );
    const outcome = await task.done;
    const elapsed = Date.now() - started;
    expect(outcome).toMatchObject({ status: 'timed_out', error: 'timed out after 200 ms' });
    expect(outcome.output).toContain('got TERM');
    expect(elapsed).toBeGreaterThanOrEqual(550);
    expect(elapsed).toBeLessThan(3000);
  });

  it('ends the run with its processes, without waiting for a leftover holding stdout', async () => {
    const started = Date.now();
    const marker = markedSleep();
    const outcome = await runner.start(ctx(), {
      command: `sleep ${marker} & echo $! > "$PIDFILE"; echo finished`,
      env: { PIDFILE: pidFile },
    }).done;
    expect(Date.now() - started).toBeLessThan(2000);
    expect(outcome).toMatchObject({ status: 'succeeded', exitCode: 0, output: 'finished\n' });
    expect(readFileSync(pidFile, 'utf8')).toMatch(/^\d+\n$/);
    await waitFor(() => pidsOf(marker).length === 0, 2000, 'the background sleep to die');
  });

  it('keeps the head and tail of large output, including what was written just before exit', async () => {
    const outcome = await runner.start(ctx(), {
      command: 'echo first; head -c 300000 /dev/zero | tr "\\0" x; echo; echo last; exit 0',
      env: {},
    }).done;
    expect(outcome.status).toBe('succeeded');
    expect(outcome.outputTruncated).toBe(true);
    expect(Buffer.byteLength(outcome.output)).toBeLessThanOrEqual(64 * 1024);
    expect(outcome.output.startsWith('first\nxxx')).toBe(true);
    expect(outcome.output.endsWith('xxx\nlast\n')).toBe(true);
    expect(outcome.output).toMatch(/\n… \[\d+ bytes omitted\] …\n/);
  });

  (mode === 'pid-namespace' ? it : it.skip)(
    'in a PID namespace the task is pid 2 with its own /proc, mounted there alone',
    async () => {
      const mounts = () =>
        readFileSync('/proc/self/mountinfo', 'utf8')
          .split('\n')
          .filter((l) => / \/proc /.test(l));
      const before = mounts();
      const outcome = await runner.start(ctx(), {
        // The processes /proc lists, counted by the shell itself (a pipeline's ls could read /proc before its grep
        // is forked: 3 or 4).
        command: `echo $$; test -e /proc/${process.pid}/cmdline && echo sees-executor; set -- /proc/[0-9]*; echo $#`,
        env: {},
      }).done;
      // pid 1 (PID 1 of the namespace) and 2 (the shell): nothing of the host
      expect(outcome).toMatchObject({ status: 'succeeded', output: '2\n2\n' });
      expect(mounts()).toEqual(before);
    },
  );

  it('reports a command that cannot be started', async () => {
    const outcome = await runner.start(ctx(), { command: 'true', env: { BAD: 'a\0b' } }).done;
    expect(outcome.status).toBe('failed');
    expect(outcome.error).toMatch(/^could not start: /);
  });

  describe('isolation', () => {
    it('starts in a fresh 0700 directory of its own, removed after the run', async () => {
      const outcome = await runner.start(ctx(), { command: 'pwd; stat -c %a .; touch left-behind', env: {} }).done;
      const [cwd, perms] = outcome.output.trim().split('\n');
      expect(cwd.startsWith(join(tmpdir(), 'gocron-run-'))).toBe(true);
      expect(cwd).not.toBe(process.cwd());
      expect(perms).toBe('700');
      expect(existsSync(cwd)).toBe(false);
    });

    it('starts in [executor] workdir when set, and leaves it', async () => {
      const inDir = new ShellRunner({ ...NO_ISOLATION, mode, workdir: dir }, new SpawnHelper(direct));
      const outcome = await inDir.start(ctx(), { command: 'pwd; touch kept', env: {} }).done;
      expect(outcome.output).toBe(`${dir}\n`);
      expect(existsSync(join(dir, 'kept'))).toBe(true);
    });

    it('removes what the task left in its directory without following its symlinks', async () => {
      const outside = join(dir, 'precious');
      writeFileSync(outside, 'x');
      const outcome = await runner.start(ctx(), {
        command: 'mkdir sub && ln -s "$OUTSIDE_DIR" sub/link && pwd',
        env: { OUTSIDE_DIR: dir },
      }).done;
      expect(existsSync(outcome.output.trim())).toBe(false);
      expect(existsSync(outside)).toBe(true);
    });

    it('refuses a command no allowed_commands pattern matches, before spawning it', async () => {
      const limited = new ShellRunner({
        ...NO_ISOLATION,
        mode,
        workdir: dir,
        allowedCommands: [/^echo [\s\S]*$/],
      });
      const refused = await limited.start(ctx(), { command: 'touch spawned', env: {} }).done;
      expect(refused).toMatchObject({ status: 'failed', exitCode: null, error: NOT_ALLOWED, output: '' });
      expect(existsSync(join(dir, 'spawned'))).toBe(false);
      expect(await limited.start(ctx(), { command: '  echo ok ', env: {} }).done).toMatchObject({
        status: 'succeeded',
        output: 'ok\n',
      });
    });

    const asRoot = systemProbe.isRoot() ? it : it.skip;
    asRoot('runs as [executor] run_as with its groups and HOME (needs root)', async () => {
      const nobody = { name: 'nobody', uid: 65534, gid: 65534, groups: [65534, 100], home: '/nonexistent' };
      const asNobody = new ShellRunner({ ...NO_ISOLATION, mode, user: nobody }, new SpawnHelper(direct));
      const outcome = await asNobody.start(ctx(), {
        command: 'id -u; id -g; id -G; echo "$HOME"; pwd; grep -E "^(Uid|Gid):" /proc/self/status | tr -s "\\t" " "',
        env: {},
      }).done;
      const [uid, gid, groups, home, cwd, uids, gids] = outcome.output.trim().split('\n');
      expect([uid, gid, groups, home]).toEqual(['65534', '65534', '65534 100', '/nonexistent']);
      // Real, effective, saved and filesystem ids: nothing left to switch back to root with.
      expect([uids.trim(), gids.trim()]).toEqual(['Uid: 65534 65534 65534 65534', 'Gid: 65534 65534 65534 65534']);
      expect(cwd.startsWith(join(tmpdir(), 'gocron-run-'))).toBe(true);
    });
  });

  it('a cancel sent together with the start still reaches the task', async () => {
    for (let i = 0; i < 10; i++) {
      const task = runner.start(ctx(), { command: 'sleep 1; echo survived', env: {} }, { killGraceMs: 0 });
      task.cancel('at once');
      const outcome = await task.done;
      expect(outcome).toMatchObject({ status: 'cancelled', error: 'at once' });
      expect(outcome.output).not.toContain('survived');
    }
  });

  it('ends a run whose leftover floods its output, within the drain bound', async () => {
    const marker = `flood${process.pid}${++markerCount}`;
    const started = Date.now();
    const outcome = await runner.start(ctx(), { command: `setsid yes ${marker} & sleep 0.2; exit 0`, env: {} }).done;
    stray.push(...pidsOf(marker));
    expect(Date.now() - started).toBeLessThan(3000);
    expect(outcome).toMatchObject({ status: 'succeeded', outputTruncated: true });
    if (mode === 'pid-namespace') await waitFor(() => pidsOf(marker).length === 0, 2000, 'the flood to die');
  });

  it('reports a helper that can not start as a failed start, not a lost run', async () => {
    const broken = new ShellRunner({ ...NO_ISOLATION, mode }, new SpawnHelper(direct, '/bin/false'));
    expect(await broken.start(ctx(), { command: 'true', env: {} }).done).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/^could not start: the spawn helper failed at start \(exit code 1;/) as string,
    });
  });

  describe('when the spawn helper dies', () => {
    it('its runs end lost, their groups killed, and the next run gets a new helper', async () => {
      const helper = new SpawnHelper(direct);
      const own = new ShellRunner({ ...NO_ISOLATION, mode }, helper);
      const [bg, fg] = [markedSleep(), markedSleep()];
      const task = own.start(ctx(), { command: `sleep ${bg} & exec sleep ${fg}`, env: {} });
      const [background, foreground] = await waitFor(
        () => {
          const found = [pidsOf(bg), pidsOf(fg)];
          return found.every((p) => p.length === 1) && found.map((p) => p[0]);
        },
        3000,
        'the two sleeps',
      );
      stray.push(background, foreground);
      const first = helper.pid!;
      process.kill(first, 'SIGKILL');
      expect(await task.done).toMatchObject({
        status: 'lost',
        exitCode: null,
        error: 'the spawn helper exited (SIGKILL)',
      });
      await waitFor(() => !isAlive(background) && !isAlive(foreground), 3000, 'the task group to die');

      expect(await own.start(ctx(), { command: 'echo again', env: {} }).done).toMatchObject({
        status: 'succeeded',
        output: 'again\n',
      });
      expect(helper.pid).not.toBe(first);
      own.close();
    });

    it('a run being cancelled when its helper dies ends cancelled, not lost', async () => {
      const helper = new SpawnHelper(direct);
      const own = new ShellRunner({ ...NO_ISOLATION, mode }, helper);
      const marker = markedSleep();
      const task = own.start(ctx(), { command: `trap '' TERM; sleep ${marker}`, env: {} }, { killGraceMs: 60_000 });
      const [pid] = await waitFor(() => pidsOf(marker).length === 1 && pidsOf(marker), 3000, 'the sleep');
      stray.push(pid);
      task.cancel('by hand');
      process.kill(helper.pid!, 'SIGKILL');
      expect(await task.done).toMatchObject({ status: 'cancelled', error: 'by hand' });
      own.close();
    });
  });

  describe('when the executor itself is SIGKILLed', () => {
    let executor: ChildProcess | undefined;

    afterEach(() => {
      if (executor?.exitCode === null && executor.signalCode === null) executor.kill('SIGKILL');
    });

    /**
     * A stand-in executor: a bare node process that starts the spawn helper exactly as SpawnHelper does and asks it
     * for one run; `fds` more pipes of its own are inherited without close-on-exec, as from a careless parent.
     */
    function standIn(command: string, fds = 0): ChildProcess {
      const frame = encodeSpawn(1, spawnRequest(command, buildTaskEnv(ctx(), {}), { ...NO_ISOLATION, mode }, dir));
      const fixture = [
        "const { spawn } = require('node:child_process');",
        'const args = JSON.parse(process.env.GOCRON_TEST_ARGS);',
        "const helper = spawn(args[0], args.slice(1), { stdio: ['pipe', 'inherit', 'inherit'], detached: true });",
        "helper.stdin.write(Buffer.from(process.env.GOCRON_TEST_FRAME, 'base64'));",
        'setInterval(() => undefined, 60000);',
      ].join('\n');
      const proc = spawn(process.execPath, ['-e', fixture], {
        env: {
          PATH: process.env.PATH,
          GOCRON_TEST_ARGS: JSON.stringify([PERL, ...helperArgs(process.arch, direct)]),
          GOCRON_TEST_FRAME: frame.toString('base64'),
        },
        stdio: ['ignore', 'pipe', 'inherit', ...Array<'pipe'>(fds).fill('pipe')],
      });
      executor = proc;
      return proc;
    }

    it('the task sees only fds 0, 1 and 2, whatever its executor inherited', async () => {
      // `exec >` moves fd 1 for good (a command's own redirection would save it on fd 10 meanwhile); `; echo end`
      // keeps sh from exec'ing ls, which would then list its own directory handle.
      const out = join(dir, 'fds');
      standIn(`exec > ${out}.tmp; ls /proc/$$/fd; echo end; mv ${out}.tmp ${out}`, 2);
      const printed = await waitFor(() => existsSync(out) && readFileSync(out, 'utf8'), 5000, 'the task to list');
      expect(printed.split('\n')).toEqual(['0', '1', '2', 'end', '']);
    });

    it('its spawn helper kills a deep chain of sessions that left the group', async () => {
      const marker = markedSleep();
      const script = join(dir, 'chain.sh');
      writeFileSync(
        script,
        'if [ "$1" -gt 0 ]; then exec setsid -w /bin/sh "$0" $(($1 - 1)) "$2"; else exec sleep "$2"; fi\n',
      );
      const proc = standIn(`/bin/sh ${script} 80 ${marker}`);
      // Every level carries the marker in its arguments: the waiting setsid of each level and the sleep.
      const chain = await waitFor(() => pidsOf(marker).length >= 80 && pidsOf(marker), 10_000, 'the chain');
      stray.push(...chain);
      proc.kill('SIGKILL');
      await waitFor(() => chain.every((pid) => !isAlive(pid)), 8000, 'the whole chain to die');
    });

    it('its spawn helper kills the task group, and what left the group', async () => {
      const [bg, escaped, fg] = [markedSleep(), markedSleep(), markedSleep()];
      const proc = standIn(`sleep ${bg} & setsid sleep ${escaped} & exec sleep ${fg}`);
      const [background, foreground, outside] = await waitFor(
        () => {
          const found = [pidsOf(bg), pidsOf(fg), pidsOf(escaped)];
          return found.every((p) => p.length === 1) && found.map((p) => p[0]);
        },
        3000,
        'the three sleeps',
      );
      stray.push(background, foreground, outside);

      proc.kill('SIGKILL');
      await waitFor(() => !isAlive(background) && !isAlive(foreground), 5000, 'the task group to die');
      // The setsid sleep: in its PID namespace, or orphaned to the helper (the subreaper) in a process group.
      if (mode === 'pid-namespace' || PRCTL_KNOWN)
        await waitFor(() => !isAlive(outside), 5000, 'the setsid sleep to die');
    });
  });
});

describe('taskStatus', () => {
  it("takes PID 1's report over the status of the chain, and the chain's status without one", () => {
    expect(taskStatus('exit 3', 3, null)).toEqual([3, null]);
    expect(taskStatus('signal 10', 138, null)).toEqual([null, 'SIGUSR1']);
    expect(taskStatus('exit 138', 138, null)).toEqual([138, null]);
    expect(taskStatus('', null, 'SIGKILL')).toEqual([null, 'SIGKILL']);
    expect(taskStatus('garbage', 1, null)).toEqual([1, null]);
  });
});

describe('spawnRequest and encodeSpawn', () => {
  const user = { name: 'task', uid: 1001, gid: 1002, groups: [1002, 27], home: '/home/task' };

  it('hands the helper the mode, the user, the directory, the command and the environment as NUL-ended fields', () => {
    const req = spawnRequest('echo hi', { A: 'x=y' }, { ...NO_ISOLATION, mode: 'pid-namespace', user }, '/tmp/run');
    expect(req).toEqual({
      mode: 'pid-namespace',
      uid: '1001',
      gid: '1002',
      groups: '1002 27',
      cwd: '/tmp/run',
      command: 'echo hi',
      env: { A: 'x=y' },
    });
    const payload = 'pid-namespace\0' + '1001\0' + '1002\0' + '1002 27\0' + '/tmp/run\0' + 'echo hi\0' + 'A=x=y\0';
    expect(encodeSpawn(7, req).toString()).toBe(`S 7 ${payload.length}\n${payload}`);
    expect(spawnRequest('true', {}, NO_ISOLATION, '/w')).toMatchObject({ mode: 'process-group', uid: '', groups: '' });
  });

  it('refuses what execve can not carry, naming where it is', () => {
    const req = spawnRequest('true', {}, NO_ISOLATION, '/w');
    expect(() => encodeSpawn(1, { ...req, command: 'a\0b' })).toThrow('the command contains a NUL byte');
    expect(() => encodeSpawn(1, { ...req, env: { BAD: 'a\0b' } })).toThrow('environment BAD contains a NUL byte');
    expect(() => encodeSpawn(1, { ...req, env: { 'A=B': 'c' } })).toThrow(
      "environment variable name 'A=B' is not valid",
    );
  });
});
