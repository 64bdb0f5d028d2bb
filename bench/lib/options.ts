// The command line of bench/run.ts (see its header): scenarios to run and the --flags, parsed once.
import { join } from 'node:path';
import { REPO_ROOT } from '../../test/support/processes';

export const SCENARIOS = ['w1', 'w2', 'w3', 'w4', 'w5', 'w6', 'w7'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];
/** What runs when no scenario is named: W6 (a 10-million-row prefill) and W7 (a 30-minute soak) only when named. */
export const DEFAULT_SCENARIOS: readonly ScenarioName[] = ['w1', 'w2', 'w3', 'w4', 'w5'];

/** `floor`: a bare loop doing the same tasks at the same instants (bench/floor.js), in W1, W2 and W4 only. */
export const SYSTEMS = ['embedded', 'cluster', 'bullmq', 'floor'] as const;
export type System = (typeof SYSTEMS)[number];
/** The two gocron-ts setups: SQLite with static discovery, or MariaDB + Redis + etcd. */
export type GocronMode = Exclude<System, 'bullmq' | 'floor'>;
export const isGocronMode = (s: System): s is GocronMode => s === 'embedded' || s === 'cluster';

/** Written as `options` into the results file: keep the keys (and their order) stable. */
export interface BenchOptions {
  seconds: number;
  /**
   * Steady scenarios (W1, W4, W5) measure after this many seconds of the load already running, for every system
   * alike: the first seconds of a fresh process (cold JIT, first connections) are start-up, not steady state.
   */
  warmup: number;
  w1Sizes: number[];
  w3Sizes: number[];
  systems: System[];
  capacity: number;
  bullConcurrency: number;
  report: boolean;
  out: string;
  /** Where benchmarks.md and benchmarks.svg go. */
  reportDir: string;
  w2Jobs: number;
  w4Jobs: number;
  w4Stamp: boolean;
  w5Rate: number;
  w5Combos: string[];
  /** Keep the other scenarios of the results file, replace the ones run now. */
  merge: boolean;
  /** W6: history rows prefilled per setup (--w6-rows=N for both, or cluster:N,embedded:M). */
  w6Rows: Record<GocronMode, number>;
  /** W6: W1's HTTP jobs every second beside the history. */
  w6Rate: number;
  /** W7: the soak's length, and its HTTP jobs every second. */
  w7Minutes: number;
  w7Rate: number;
  /** W7: both setups at once (halves the wall time; each then shares the machine with the other). */
  w7Parallel: boolean;
}

const W6_ROWS: Record<GocronMode, number> = { cluster: 10_000_000, embedded: 2_000_000 };

/** `--w6-rows=`: one count for both setups, or `cluster:N,embedded:M` (a setup left out keeps its default). */
function parseW6Rows(v: string | null): Record<GocronMode, number> {
  const rows = { ...W6_ROWS };
  if (v === null) return rows;
  if (/^\d+$/.test(v)) return { cluster: Number(v), embedded: Number(v) };
  for (const part of v.split(',')) {
    const [mode, n] = part.split(':');
    if ((mode !== 'cluster' && mode !== 'embedded') || !/^\d+$/.test(n ?? '')) {
      throw new Error(`--w6-rows: ${part} is not <N> or cluster:<N> / embedded:<N>`);
    }
    rows[mode] = Number(n);
  }
  return rows;
}

export interface BenchArgs {
  /** The scenarios named on the command line, or DEFAULT_SCENARIOS. */
  chosen: ScenarioName[];
  options: BenchOptions;
}

const isScenario = (s: string): s is ScenarioName => (SCENARIOS as readonly string[]).includes(s);
const isSystem = (s: string): s is System => (SYSTEMS as readonly string[]).includes(s);

export function parseArgs(argv: string[]): BenchArgs {
  const flag = (name: string, def: string): string => {
    const a = argv.find((x) => x.startsWith(`--${name}=`));
    return a ? a.slice(name.length + 3) : def;
  };
  const list = (name: string, def: string): string[] => flag(name, def).split(',');
  const chosen: ScenarioName[] = [];
  for (const s of argv.filter((a) => !a.startsWith('--')).map((a) => a.toLowerCase())) {
    if (!isScenario(s)) throw new Error(`unknown scenario ${s} (known: ${SCENARIOS.join(', ')})`);
    chosen.push(s);
  }
  const systems: System[] = [];
  for (const s of list('systems', 'embedded,cluster,bullmq,floor')) {
    if (!isSystem(s)) throw new Error(`--systems: unknown system ${s} (known: ${SYSTEMS.join(', ')})`);
    systems.push(s);
  }
  const options: BenchOptions = {
    seconds: Number(flag('seconds', '60')),
    warmup: Number(flag('warmup', '10')),
    w1Sizes: list('w1-sizes', '100,1000').map(Number),
    w3Sizes: list('w3-sizes', '10000,100000').map(Number),
    systems,
    capacity: Number(flag('capacity', '2048')),
    bullConcurrency: Number(flag('bull-concurrency', '100')),
    report: !argv.includes('--no-report'),
    out: flag('out', join(REPO_ROOT, 'bench', 'results', 'latest.json')),
    reportDir: flag('report-dir', join(REPO_ROOT, 'docs')),
    w2Jobs: Number(flag('w2-jobs', '5000')),
    w4Jobs: Number(flag('w4-jobs', '200')),
    w4Stamp: argv.includes('--w4-stamp'),
    w5Rate: Number(flag('w5-rate', '1000')),
    w5Combos: list('w5-combos', '1d1e,2d1e,1d2e,2d2e'),
    merge: argv.includes('--merge'),
    w6Rows: parseW6Rows(argv.some((x) => x.startsWith('--w6-rows=')) ? flag('w6-rows', '') : null),
    w6Rate: Number(flag('w6-rate', '100')),
    w7Minutes: Number(flag('w7-minutes', '30')),
    w7Rate: Number(flag('w7-rate', '200')),
    w7Parallel: argv.includes('--w7-parallel'),
  };
  for (const c of options.w5Combos) {
    if (!/^\d+d\d+e$/.test(c)) throw new Error(`--w5-combos: ${c} is not <N>d<M>e (e.g. 2d1e)`);
  }
  if (!(options.w7Minutes > 0)) throw new Error(`--w7-minutes: ${options.w7Minutes} is not a positive number`);
  return { chosen: chosen.length ? chosen : [...DEFAULT_SCENARIOS], options };
}
