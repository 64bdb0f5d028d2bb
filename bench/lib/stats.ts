// Percentiles of lags and the per-tick accounting every scenario reports (expected, started, missed, duplicated).

export const round1 = (x: number | null | undefined): number | null =>
  x == null || Number.isNaN(x) ? null : Math.round(x * 10) / 10;
export const round3 = (x: number | null | undefined): number | null =>
  x == null || Number.isNaN(x) ? null : Math.round(x * 1000) / 1000;

/** The nearest-rank percentile of an ascending array (null when empty). */
function pct(sorted: Float64Array, p: number): number | null {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export interface LagStats {
  n: number;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
}

export function lagStats(xs: number[]): LagStats {
  const s = Float64Array.from(xs).sort();
  return { n: s.length, p50: pct(s, 50), p90: pct(s, 90), p99: pct(s, 99), max: s.length ? s[s.length - 1] : null };
}

/** One observed start of a job's tick: `key` names the job, `sched` is the tick's instant, `start` when it ran. */
export interface TickRecord {
  key: string;
  sched: number;
  start: number;
}

export interface TickStats {
  expected: number;
  started: number;
  missed: number;
  duplicated: number;
  runsPerSec: number | null;
  expectedPerSec: number;
  lag: LagStats;
}

/** Ticks in [T0, T1) of `jobs` jobs every second: expected, distinct started, missed, duplicated, lag. */
export function tickStats(records: TickRecord[], jobs: number, T0: number, T1: number): TickStats {
  const seconds = (T1 - T0) / 1000;
  const expected = jobs * seconds;
  const inWin = records.filter((r) => r.sched >= T0 && r.sched < T1);
  const seen = new Set<string>();
  let dup = 0;
  const lags: number[] = [];
  for (const r of inWin) {
    const k = `${r.key}@${r.sched}`;
    if (seen.has(k)) dup++;
    else {
      seen.add(k);
      lags.push(r.start - r.sched);
    }
  }
  return {
    expected,
    started: seen.size,
    missed: Math.max(0, expected - seen.size),
    duplicated: dup,
    runsPerSec: round1(seen.size / seconds),
    expectedPerSec: jobs,
    lag: lagStats(lags),
  };
}

export interface BurstStats {
  jobs: number;
  started: number;
  missed: number;
  allStartedAfterMs: number | null;
  lag: LagStats;
}

/** `jobs` jobs all due at `at`: how many started (first start per job), and how late. */
export function burstStats(records: TickRecord[], jobs: number, at: number): BurstStats {
  const first = new Map<string, number>();
  for (const r of records) if (r.sched === at && !first.has(r.key)) first.set(r.key, r.start);
  const lags = [...first.values()].map((t) => t - at);
  const st = lagStats(lags);
  return {
    jobs,
    started: first.size,
    missed: jobs - first.size,
    allStartedAfterMs: first.size === jobs ? st.max : null,
    lag: st,
  };
}
