// Bursts of shell runs through the spawn helper alone (issue 17): every second, N `true` runs handed to one
// SpawnHelper at once; how long from the request to each run's reported end. It is the burst that stalled the first
// helper (descriptors and zombies piling up while it forked a whole burst before reaping).
// `node --import tsx bench/spawn-burst.ts [--mode=pid-namespace|process-group] [--burst=200] [--bursts=5]`
// (pid-namespace needs root); prints one JSON line.
import { SpawnHelper } from '../apps/executor/src/tasks/runners/spawn-helper';
import type { ContainmentMode } from '../apps/executor/src/tasks/runners/task-isolation';

const arg = (name: string, fallback: string) =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback;
const MODE = arg('mode', 'pid-namespace') as ContainmentMode;
const BURST = Number(arg('burst', '200'));
const BURSTS = Number(arg('bursts', '5'));

async function main(): Promise<void> {
  const helper = new SpawnHelper();
  const request = { mode: MODE, uid: '', gid: '', groups: '', cwd: '/tmp', command: 'true', env: { PATH: '/bin' } };
  const latencies: number[] = [];
  const failures: string[] = [];
  const ends: Promise<void>[] = [];
  for (let b = 0; b < BURSTS; b++) {
    for (let i = 0; i < BURST; i++) {
      const t = Date.now();
      ends.push(
        new Promise((resolve) => {
          helper.spawn(request, {
            output: () => undefined,
            exited: () => resolve(void latencies.push(Date.now() - t)),
            failed: (message) => resolve(void failures.push(message)),
          });
        }),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  await Promise.all(ends);
  helper.close();
  latencies.sort((a, b) => a - b);
  const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  process.stdout.write(
    `${JSON.stringify({ mode: MODE, burst: BURST, bursts: BURSTS, ended: latencies.length, failures: failures.length, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: latencies.at(-1) })}\n`,
  );
}

void main();
