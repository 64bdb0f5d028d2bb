// What one shell run's process chain costs (issue 13 item 4; issue 17 wants <= 3 ms CPU per run): N `true` tasks
// one after another through ShellRunner in each containment mode, against the chain before issue 13 (sh wrapper and
// watcher only). CPU is the executor's own plus its reaped children's (/proc/self/stat utime..cstime).
// `node --import tsx bench/shell-spawn-cost.ts [--runs=200]`; prints one JSON line per chain.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ShellRunner } from '../apps/executor/src/tasks/runners/shell-runner';
import { NO_ISOLATION, systemProbe, TaskIsolation } from '../apps/executor/src/tasks/runners/task-isolation';

const RUNS = Number(process.argv.find((a) => a.startsWith('--runs='))?.split('=')[1] ?? 200);
const TICK_MS = 10; // USER_HZ is 100 on Linux

const BEFORE_WRAPPER = [
  'exec 3<&0',
  "( trap '' HUP INT TERM; while read -r line; do :; done <&3; kill -KILL 0 ) </dev/null >/dev/null 2>&1 &",
  'exec /bin/sh -c "$1" </dev/null 3<&-',
].join('\n');

function cpuMs(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  // utime, stime, cutime, cstime are fields 14-17, i.e. 11-14 after the command name.
  return [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]) * TICK_MS, 0);
}

function before(): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', BEFORE_WRAPPER, 'gocron-task', 'true'], {
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdout.resume();
    child.stderr.resume();
    child.once('exit', () => {
      child.stdin.destroy();
      resolve();
    });
  });
}

async function measure(name: string, once: () => Promise<void>): Promise<void> {
  for (let i = 0; i < 10; i++) await once(); // warm-up
  const cpu0 = cpuMs();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < RUNS; i++) await once();
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const cpu = cpuMs() - cpu0;
  process.stdout.write(
    `${JSON.stringify({
      chain: name,
      runs: RUNS,
      wallMsPerRun: +(wallMs / RUNS).toFixed(2),
      cpuMsPerRun: +(cpu / RUNS).toFixed(2),
    })}\n`,
  );
}

async function main(): Promise<void> {
  const ctx = { runId: 1, jobId: 1, scheduledAt: new Date().toISOString(), attempt: 1, timeoutMs: 0 };
  const through = (isolation: TaskIsolation) => async () => {
    await new ShellRunner(isolation).start(ctx, { command: 'true', env: {} }).done;
  };
  await measure('before issue 13 (sh wrapper + watcher)', before);
  await measure('process-group', through(NO_ISOLATION));
  if (systemProbe.isRoot() && systemProbe.canUsePidNamespace()) {
    await measure('pid-namespace', through({ ...NO_ISOLATION, mode: 'pid-namespace' }));
    const nobody = systemProbe.lookupUser('nobody');
    if (nobody)
      await measure('pid-namespace, run_as nobody', through({ ...NO_ISOLATION, mode: 'pid-namespace', user: nobody }));
  }
}

void main();
