// Types of bench/report.js (plain JavaScript, so `node bench/report.js` re-renders a results file without a loader).
import type { BenchResults } from './lib/results';

/** Writes benchmarks.md and benchmarks.svg into `outDir` (default docs/). */
export function writeReport(res: BenchResults, outDir?: string): void;
