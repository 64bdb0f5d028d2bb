// What every scenario gets: the options, this run's id, its workspace and the process control.
import type { BenchOptions } from './options';
import type { ProcessControl } from './processes';
import type { Workspace } from './workspace';

export interface Bench {
  opts: BenchOptions;
  /** Unique per run; part of database names, key prefixes and BullMQ prefixes. */
  runId: string;
  work: Workspace;
  procs: ProcessControl;
}

/** One measurement of a scenario, as run.ts attempts it: a failure is recorded and the next attempt goes on. */
export interface Attempt<R> {
  label: string;
  run: () => Promise<R>;
}

export function log(s: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`);
}
