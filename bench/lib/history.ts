// A run ledger with history (W6, bench/alter-timing.ts): 1,000 paused jobs and N of their past runs over 30 days,
// written with multi-row INSERTs straight into `runs`, shaped as the apps would have written them.
//
// Each job has an `@every <I>s` schedule anchored at its creation, and its history is exactly that schedule's ticks
// in the 30 days before the fill, so every row's scheduled_at, tick_key and the job's last_tick_at agree. Rows per
// job are skewed (a few jobs every few seconds, most every few minutes to hours): Zipf weights (rank^-0.8) over the
// jobs in a shuffled order. Outcomes: 2 % failed, 0.5 % missed (written by the sweeper 120 s after the tick), and on
// the `forbid` jobs a run now and then outlasting its interval, so that the next tick is `skipped` naming it. Ids
// follow created_at (insertion order, as the dispatcher's INSERTs give them), and every run has ended before the
// fill. The same seed gives the same ledger.
import { tickKeyOf } from '../../apps/dispatcher/src/scheduling/tick-policy';
import type { JobRow, LedgerDb } from './ledger-db';
import { jobRow } from './ledger-db';
import { round1 } from './stats';

const DAY_MS = 86_400_000;
/** The history ends this long before the fill, so that every run of it (and the sweeper's misses) is over. */
const END_MARGIN_MS = 300_000;
/** What the missed-tick sweeper waits before recording a tick no dispatcher claimed (MISSED_GRACE_MS). */
const MISSED_AFTER_MS = 120_000;
const TIMEOUT_MS = 60_000;

export interface HistoryJob {
  /** 0-based, the order the jobs are inserted in (their ids follow it). */
  index: number;
  intervalS: number;
  /** The first tick's instant (ms); tick k is firstTick + k * intervalS s. */
  firstTick: number;
  runs: number;
  shell: boolean;
  forbid: boolean;
}

export interface HistoryPlan {
  jobs: HistoryJob[];
  rows: number;
  /** The history's ticks are in [startAt, endAt). */
  startAt: number;
  endAt: number;
  seed: number;
}

/** A runs row, by column: what the prefill writes. */
interface HistoryRun {
  id: number;
  job_id: number;
  tick_key: string;
  attempt: number;
  executor_key: string;
  scheduled_at: number;
  trigger: string;
  status: string;
  not_before: number;
  deadline_at: number;
  executor_id: string | null;
  executor_address: string | null;
  dispatcher_id: string | null;
  started_at: number | null;
  finished_at: number | null;
  duration_ms: number | null;
  exit_code: number | null;
  http_status: number | null;
  output: string | null;
  output_truncated: number;
  error: string | null;
  created_at: number;
  updated_at: number;
}

/** Every column of `runs`, the order of the values of a row. */
export const HISTORY_COLUMNS = [
  'id',
  'job_id',
  'tick_key',
  'attempt',
  'executor_key',
  'scheduled_at',
  'trigger',
  'status',
  'not_before',
  'deadline_at',
  'executor_id',
  'executor_address',
  'dispatcher_id',
  'started_at',
  'finished_at',
  'duration_ms',
  'exit_code',
  'http_status',
  'output',
  'output_truncated',
  'error',
  'created_at',
  'updated_at',
] as const satisfies readonly (keyof HistoryRun)[];

/** mulberry32: a small seeded generator, so that two runs of the bench fill the same ledger. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface PlanOptions {
  /** The history ends END_MARGIN_MS before this; default now. */
  endAt?: number;
  seed?: number;
  /** The first `httpFirst` jobs are HTTP jobs with concurrency `allow` (W6 turns them into W1's jobs). */
  httpFirst?: number;
}

/** `jobs` jobs sharing `rows` runs over the `days` days before `opts.endAt` (less END_MARGIN_MS). */
export function planHistory(jobs: number, rows: number, days: number, opts: PlanOptions = {}): HistoryPlan {
  const { endAt = Date.now(), seed = 10, httpFirst = 0 } = opts;
  if (rows > jobs * days * 86_400) throw new Error(`history: ${rows} runs do not fit ${jobs} jobs over ${days} days`);
  const rnd = random(seed);
  const end = Math.floor((endAt - END_MARGIN_MS) / 1000) * 1000;
  const spanS = days * 86_400;
  const start = end - days * DAY_MS;
  // Zipf weights by rank, the ranks dealt to the jobs in a shuffled order
  const ranks = Array.from({ length: jobs }, (_, i) => i);
  for (let i = jobs - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [ranks[i], ranks[j]] = [ranks[j], ranks[i]];
  }
  const weights = ranks.map((r) => (r + 1) ** -0.8);
  const total = weights.reduce((a, b) => a + b, 0);
  const counts = weights.map((w) => Math.min(spanS, Math.max(rows >= jobs ? 1 : 0, Math.floor((rows * w) / total))));
  // what flooring left over goes to the busiest jobs, one each (or what the minimum of one added, from them)
  let left = rows - counts.reduce((a, b) => a + b, 0);
  const byWeight = ranks.map((_, i) => i).sort((a, b) => weights[b] - weights[a]);
  for (let k = 0; left !== 0; k = (k + 1) % jobs) {
    const i = byWeight[k];
    if (left > 0 && counts[i] < spanS) {
      counts[i]++;
      left--;
    } else if (left < 0 && counts[i] > 1) {
      counts[i]--;
      left++;
    }
  }
  const out: HistoryJob[] = counts.map((n, index) => {
    const intervalS = n ? Math.max(1, Math.floor(spanS / n)) : 3600;
    // the last tick stays before `end`: a phase in what the n ticks leave of the span
    const room = n ? spanS - (n - 1) * intervalS : spanS;
    return {
      index,
      intervalS,
      firstTick: start + Math.floor(rnd() * room) * 1000,
      runs: n,
      shell: rnd() < 0.3 && index >= httpFirst,
      forbid: rnd() < 0.3 && index >= httpFirst,
    };
  });
  return { jobs: out, rows, startAt: start, endAt: end, seed };
}

/**
 * The plan's job rows, `<prefix>-<index>`, paused, `@every` their interval anchored one interval before their
 * first tick, last_tick_at at their last tick. HTTP jobs GET `url`; shell jobs run `echo ok`.
 */
export function historyJobRows(plan: HistoryPlan, prefix: string, url: string): JobRow[] {
  return plan.jobs.map((j) => {
    const anchor = j.firstTick - j.intervalS * 1000;
    const last = j.runs ? j.firstTick + (j.runs - 1) * j.intervalS * 1000 : anchor;
    return {
      ...jobRow(j.index, prefix, `@every ${j.intervalS}s`, url, anchor, j.shell ? 'echo ok' : null),
      concurrency: j.forbid ? 'forbid' : 'allow',
      enabled: 0,
      last_tick_at: last,
      // paused a little after its last run: an update, hence version 2
      version: 2,
      updated_at: Math.min(plan.endAt, last + 60_000),
    };
  });
}

/** A min-heap of (key, value), ties broken by insertion order. */
class MinHeap<T> {
  private keys: number[] = [];
  private seqs: number[] = [];
  private vals: T[] = [];
  private seq = 0;

  get size(): number {
    return this.vals.length;
  }

  peekKey(): number {
    return this.keys[0];
  }

  push(key: number, val: T): void {
    this.keys.push(key);
    this.seqs.push(this.seq++);
    this.vals.push(val);
    let i = this.vals.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  pop(): T {
    const top = this.vals[0];
    const last = this.vals.length - 1;
    this.swap(0, last);
    this.keys.pop();
    this.seqs.pop();
    this.vals.pop();
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < this.vals.length && this.less(l, m)) m = l;
      if (r < this.vals.length && this.less(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
    return top;
  }

  private less(a: number, b: number): boolean {
    return this.keys[a] < this.keys[b] || (this.keys[a] === this.keys[b] && this.seqs[a] < this.seqs[b]);
  }

  private swap(a: number, b: number): void {
    [this.keys[a], this.keys[b]] = [this.keys[b], this.keys[a]];
    [this.seqs[a], this.seqs[b]] = [this.seqs[b], this.seqs[a]];
    [this.vals[a], this.vals[b]] = [this.vals[b], this.vals[a]];
  }
}

const EXECUTORS = [
  { id: 'hist-e-1', address: '10.0.0.11:50051' },
  { id: 'hist-e-2', address: '10.0.0.12:50051' },
];
const DISPATCHERS = ['hist-d-1', 'hist-d-2'];

const MISSED_ERROR = `no dispatcher claimed this tick within ${MISSED_AFTER_MS / 1000} s of its time`;

/**
 * A first-attempt schedule row claimed (or, for a miss, swept) at `created`, ended at `finished`; the caller sets
 * the outcome's columns. One literal with every column, so that all rows share one shape (10 million of them).
 */
function runRow(
  jobId: number,
  at: number,
  status: string,
  created: number,
  deadline: number,
  ex: { id: string; address: string } | null,
  dispatcher: string,
  started: number | null,
  finished: number,
): HistoryRun {
  return {
    id: 0,
    job_id: jobId,
    tick_key: tickKeyOf(at),
    attempt: 1,
    executor_key: '',
    scheduled_at: at,
    trigger: 'schedule',
    status,
    not_before: created,
    deadline_at: deadline,
    executor_id: ex ? ex.id : null,
    executor_address: ex ? ex.address : null,
    dispatcher_id: dispatcher,
    started_at: started,
    finished_at: finished,
    duration_ms: null,
    exit_code: null,
    http_status: null,
    output: null,
    output_truncated: 0,
    error: null,
    created_at: created,
    updated_at: finished,
  };
}

/**
 * The plan's runs in id order, `batch` rows at a time (values in HISTORY_COLUMNS order), ids from `firstId`.
 * `jobIds[j]` is the id of the plan's job j.
 */
export function* historyBatches(
  plan: HistoryPlan,
  jobIds: number[],
  firstId: number,
  batch: number,
): Generator<unknown[][]> {
  const rnd = random(plan.seed + 1);
  const ticks = new MinHeap<HistoryJob>();
  const done = plan.jobs.map(() => 0);
  const skipNext = plan.jobs.map(() => false);
  const lastRunId = plan.jobs.map(() => 0);
  for (const j of plan.jobs) if (j.runs) ticks.push(j.firstTick, j);
  // rows wait here until no row still to come can be created before them: ids follow created_at
  const pending = new MinHeap<{ row: HistoryRun; job: HistoryJob }>();
  let nextId = firstId;
  let out: unknown[][] = [];
  const emitUpTo = function* (t: number): Generator<unknown[][]> {
    while (pending.size && pending.peekKey() <= t) {
      const { row, job } = pending.pop();
      row.id = nextId++;
      if (row.started_at !== null) lastRunId[job.index] = row.id;
      out.push(HISTORY_COLUMNS.map((c) => row[c]));
      if (out.length >= batch) {
        yield out;
        out = [];
      }
    }
  };
  while (ticks.size) {
    const at = ticks.peekKey();
    const job = ticks.pop();
    // every row created at or before this tick is final in order: later rows are created after it
    yield* emitUpTo(at);
    const k = done[job.index]++;
    if (k + 1 < job.runs) ticks.push(at + job.intervalS * 1000, job);
    const created = at + 2 + Math.floor(rnd() * 24);
    const dispatcher = DISPATCHERS[Math.floor(rnd() * DISPATCHERS.length)];
    const u = rnd();
    let row: HistoryRun;
    if (skipNext[job.index]) {
      skipNext[job.index] = false;
      const error = `run ${lastRunId[job.index]} of this job was still running (concurrency: forbid)`;
      row = runRow(jobIds[job.index], at, 'skipped', created, at + TIMEOUT_MS, null, dispatcher, null, created);
      row.error = error;
    } else if (u < 0.005) {
      const swept = at + MISSED_AFTER_MS + Math.floor(rnd() * 5000);
      row = runRow(jobIds[job.index], at, 'missed', swept, at, null, dispatcher, null, swept);
      row.error = MISSED_ERROR;
    } else {
      const failed = u < 0.025;
      const started = created + 3 + Math.floor(rnd() * 28);
      let duration = job.shell ? 8 + Math.floor(rnd() ** 2 * 1500) : 15 + Math.floor(rnd() ** 3 * 400);
      // now and then a forbid job's run outlasts its interval (not its next one): the next tick is skipped
      if (job.forbid && job.intervalS >= 5 && k + 1 < job.runs && rnd() < 0.03) {
        duration = job.intervalS * 1000 + 500 + Math.floor(rnd() * Math.min(10_000, job.intervalS * 1000 - 1000));
        skipNext[job.index] = true;
      }
      const ex = EXECUTORS[Math.floor(rnd() * EXECUTORS.length)];
      const status = failed ? 'failed' : 'succeeded';
      row = runRow(
        jobIds[job.index],
        at,
        status,
        created,
        at + TIMEOUT_MS,
        ex,
        dispatcher,
        started,
        started + duration,
      );
      row.duration_ms = duration;
      if (job.shell) {
        row.exit_code = failed ? 1 : 0;
        row.output = failed ? 'error: upstream unavailable\n' : 'ok\n';
        row.error = failed ? 'exit code 1' : null;
      } else {
        row.http_status = failed ? 500 : 200;
        row.output = failed ? 'internal error' : 'ok';
        row.error = failed ? 'unexpected HTTP status 500 (expected 200)' : null;
      }
    }
    pending.push(row.created_at, { row, job });
  }
  yield* emitUpTo(Infinity);
  if (out.length) yield out;
}

export interface PrefillStats {
  rows: number;
  jobs: number;
  days: number;
  ms: number;
  rowsPerSec: number | null;
  rowsPerStatement: number;
  statements: number;
  /** Data and indexes after the fill (MySQL: information_schema after ANALYZE, an estimate; SQLite: its pages). */
  storageMB: number | null;
  /** Rows by status, as generated. */
  statuses: Record<string, number>;
  maxId: number;
}

/**
 * Writes the plan's runs for the jobs `jobIds` (plan order) into `runs`, after whatever it holds. While one batch is
 * written (MySQL: a round trip) the next is generated; on SQLite it is all synchronous, in one transaction a batch.
 */
export async function prefillHistory(db: LedgerDb, plan: HistoryPlan, jobIds: number[]): Promise<PrefillStats> {
  const [{ n: maxBefore }] = await db.all<{ n: number | string | null }>(`SELECT MAX(id) AS n FROM runs`);
  const firstId = Number(maxBefore ?? 0) + 1;
  const perStatement = db.rowsPerStatement(HISTORY_COLUMNS);
  const statuses: Record<string, number> = {};
  const statusAt = HISTORY_COLUMNS.indexOf('status');
  let rows = 0;
  let statements = 0;
  const t0 = Date.now();
  let writing: Promise<void> | null = null;
  for (const b of historyBatches(plan, jobIds, firstId, perStatement * 10)) {
    for (const r of b) statuses[r[statusAt] as string] = (statuses[r[statusAt] as string] || 0) + 1;
    if (writing) await writing;
    writing = db.insertRows('runs', HISTORY_COLUMNS, b);
    rows += b.length;
    statements += Math.ceil(b.length / perStatement);
  }
  if (writing) await writing;
  const ms = Date.now() - t0;
  const bytes = await db.storageBytes().catch(() => null);
  return {
    rows,
    jobs: plan.jobs.length,
    days: Math.round((plan.endAt - plan.startAt) / DAY_MS),
    ms,
    rowsPerSec: ms ? Math.round((rows / ms) * 1000) : null,
    rowsPerStatement: perStatement,
    statements,
    storageMB: bytes == null ? null : round1(bytes / 1048576),
    statuses,
    maxId: firstId + rows - 1,
  };
}
