// What one shell run's process chain costs (issue 13 item 4; issue 17 wants <= 3 ms CPU per run, executor and spawn
// helper together): N `true` tasks one after another through ShellRunner in each containment mode, beside the floor
// (a bare `child_process.spawn('/bin/sh', ['-c', 'true'])` from this process). CPU is read from /proc: this process's
// own (utime+stime), the spawn helper's own, and the tasks' (the helper's reaped children, cutime+cstime; for the
// floor this process's reaped children).
// `node --import tsx bench/shell-spawn-cost.ts [--runs=200] [--parallel=1]`; prints one JSON line per chain.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ShellRunner } from '../apps/executor/src/tasks/runners/shell-runner';
import { SpawnHelper } from '../apps/executor/src/tasks/runners/spawn-helper';
import { NO_ISOLATION, systemProbe, TaskIsolation } from '../apps/executor/src/tasks/runners/task-isolation';

const arg = (name: string, fallback: number) =>
  Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const RUNS = arg('runs', 200);
/** Runs in flight at once. */
const PARALLEL = arg('parallel', 1);
const TICK_MS = 10; // USER_HZ is 100 on Linux

/** [own, reaped children] CPU ms of a process. */
function cpuMs(pid: number | 'self'): [number, number] {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  // utime, stime, cutime, cstime are fields 14-17, i.e. 11-14 after the command name.
  const f = (i: number) => Number(fields[i]) * TICK_MS;
  return [f(11) + f(12), f(13) + f(14)];
}

function floor(): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', 'true'], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.resume();
    child.stderr.resume();
    child.once('exit', () => resolve());
  });
}

async function measure(name: string, once: () => Promise<void>, helper?: SpawnHelper): Promise<void> {
  const batch = () => Promise.all(Array.from({ length: PARALLEL }, once));
  for (let i = 0; i < 10; i++) await batch(); // warm-up (and the helper started)
  const [own0, children0] = cpuMs('self');
  const [helper0, tasks0] = helper?.pid ? cpuMs(helper.pid) : [0, 0];
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < RUNS / PARALLEL; i++) await batch();
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const [own1, children1] = cpuMs('self');
  const [helper1, tasks1] = helper?.pid ? cpuMs(helper.pid) : [0, 0];
  const per = (ms: number) => +(ms / RUNS).toFixed(2);
  process.stdout.write(
    `${JSON.stringify({
      chain: name,
      runs: RUNS,
      parallel: PARALLEL,
      wallMsPerRun: per(wallMs),
      executorCpuMsPerRun: per(own1 - own0),
      helperCpuMsPerRun: per(helper1 - helper0),
      executorAndHelperCpuMsPerRun: per(own1 - own0 + helper1 - helper0),
      tasksCpuMsPerRun: per(helper ? tasks1 - tasks0 : children1 - children0),
    })}\n`,
  );
}

async function main(): Promise<void> {
  const ctx = { runId: 1, jobId: 1, scheduledAt: new Date().toISOString(), attempt: 1, timeoutMs: 0 };
  const through = async (name: string, isolation: TaskIsolation, direct = true) => {
    const helper = new SpawnHelper(direct);
    const runner = new ShellRunner(isolation, helper);
    await measure(name, async () => void (await runner.start(ctx, { command: 'true', env: {} }).done), helper);
    runner.close();
  };
  await measure('floor: child_process.spawn from this process', floor);
  await through('process-group', NO_ISOLATION);
  if (systemProbe.isRoot() && systemProbe.canUsePidNamespace()) {
    await through('pid-namespace', { ...NO_ISOLATION, mode: 'pid-namespace' });
    await through('pid-namespace through setpriv/unshare/perl', { ...NO_ISOLATION, mode: 'pid-namespace' }, false);
    const nobody = systemProbe.lookupUser('nobody');
    if (nobody) await through('pid-namespace, run_as nobody', { ...NO_ISOLATION, mode: 'pid-namespace', user: nobody });
  }
}

void main();
