// The floor (bench/floor.js) as a measured process: a bare loop in a small Node process doing the same tasks at the
// same instants as the systems, without a scheduler, run in every W1, W2 and W4 beside them (issue 17).
import { join } from 'node:path';
import type { Bench } from './bench';
import { BenchProcess, measuredEnv } from './processes';

/** Runs `fn` with the floor started (`env`: its FLOOR_MODE, FLOOR_JOBS, …), stopped afterwards. */
export async function withFloor<T>(
  bench: Bench,
  name: string,
  env: Record<string, string>,
  fn: (floor: BenchProcess) => Promise<T>,
): Promise<T> {
  const floor = bench.procs.start(name, [join(__dirname, '..', 'floor.js')], { ...measuredEnv(), ...env });
  try {
    await floor.waitForOutput(/floor ready/, 10_000);
    return await fn(floor);
  } finally {
    await floor.stop();
  }
}
