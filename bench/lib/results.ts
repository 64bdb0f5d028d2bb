// The results file (--out, bench/results/latest.json) that bench/report.js renders: keep its shape stable.
import type { W1Result } from '../scenarios/w1-steady';
import type { W2Result } from '../scenarios/w2-burst';
import type { W3Result } from '../scenarios/w3-scale';
import type { W4Result } from '../scenarios/w4-shell';
import type { W5Result } from '../scenarios/w5-cluster';
import type { W6Result } from '../scenarios/w6-history';
import type { W7Result } from '../scenarios/w7-soak';
import type { BenchOptions, ScenarioName } from './options';
import type { BuildInfo } from './workspace';

export interface Machine {
  nproc: number;
  cpuModel: string | undefined;
  ramGB: number | null;
  node: string;
  bullmq: string;
  kernel: string;
}

export interface BenchResults {
  runId: string;
  startedAt: string;
  machine: Machine;
  build: BuildInfo;
  options: BenchOptions;
  loadAtStart: number[];
  w1: W1Result[];
  w2: W2Result[];
  w3: W3Result[];
  w4: W4Result[];
  w5: W5Result[];
  w6: W6Result[];
  w7: W7Result[];
  errors: { label: string; error: string }[];
  finishedAt?: string;
  loadAtEnd?: number[];
  /** With --merge: the scenarios taken from the file's earlier run. */
  merged?: { from: string; scenarios: ScenarioName[] };
  /** Which run each scenario's figures come from, carried across merges. */
  provenance?: Partial<Record<ScenarioName, string>>;
  earlier?: Pick<BenchResults, 'runId' | 'startedAt' | 'finishedAt' | 'loadAtStart' | 'loadAtEnd' | 'build'>;
}
