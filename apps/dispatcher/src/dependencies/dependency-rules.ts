import { createHash } from 'node:crypto';
import { DependencyCondition, DependencyEdge, isFinalAttempt, JobEntity, ParentRun } from '@app/persistence';

/** What a parent's finished run came to, for its children: a success, a failure-type final attempt, or nothing. */
export type ParentOutcome = 'success' | 'failure' | null;

/** The ledger's tick key column is this wide. */
const TICK_KEY_MAX = 64;

/**
 * A parent run's outcome. `succeeded` is a success; `failed`, `timed_out` and `lost` are a failure on the final
 * attempt only (an attempt with a retry to come is nothing yet); every other status starts nothing.
 */
export function outcomeOf(run: ParentRun, job: Pick<JobEntity, 'retries' | 'updatedAt'>): ParentOutcome {
  switch (run.status) {
    case 'succeeded':
      return 'success';
    case 'failed':
    case 'timed_out':
    case 'lost':
      return isFinalAttempt(run, job) ? 'failure' : null;
    case 'cancelled':
    case 'missed':
    case 'skipped':
    case 'pending':
    case 'running':
      return null;
  }
}

export function satisfies(on: DependencyCondition, outcome: ParentOutcome): boolean {
  if (outcome === null) return false;
  return on === 'always' || (on === 'success') === (outcome === 'success');
}

/**
 * Whether a finished run may start children at all: a manual run does only when it was triggered with
 * `cascade=true` (tick key `cascade:…`); a plain manual run's key is `manual:…`.
 */
export function startsChildren(run: Pick<ParentRun, 'tickKey'>): boolean {
  return !run.tickKey.startsWith('manual:');
}

/**
 * The tick key of the occasion an `any` child starts from one parent run: `dep:{parentJobId}:{parentTickKey}`, the
 * same for every attempt of the parent's tick, so a retry that succeeds starts the child once. A key that would not
 * fit the column (a chain of dependency runs nests keys) keeps its prefix and a digest of the parent's key instead.
 */
export function anyOccasionKey(parentJobId: number, parentTickKey: string): string {
  const key = `dep:${parentJobId}:${parentTickKey}`;
  if (key.length <= TICK_KEY_MAX) return key;
  const digest = createHash('sha256').update(parentTickKey).digest('base64url').slice(0, 32);
  return `dep:${parentJobId}:#${digest}`;
}

/**
 * The tick key of an `all` occasion: `dep:all:{the earliest scheduledAt of its parent runs}`. Two occasions of
 * different runs can have the same earliest instant (parents matched by window); the one that finds its key taken
 * is keyed `dep:all:{instant}:{its lowest parent run id}` instead (`disambiguated`).
 */
export function allOccasionKey(
  parents: readonly Pick<ParentRun, 'scheduledAt' | 'id'>[],
  disambiguated = false,
): string {
  const key = `dep:all:${Math.min(...parents.map((p) => p.scheduledAt))}`;
  return disambiguated ? `${key}:${Math.min(...parents.map((p) => p.id))}` : key;
}

/**
 * Whether the parents share a schedule: every one has the same non-empty cron and time zone. Their runs of one
 * occasion then have the same `scheduledAt`; otherwise runs within `dependencyWindowMs` of each other make one.
 */
export function shareSchedule(parents: readonly Pick<JobEntity, 'cron' | 'timezone'>[]): boolean {
  const [first] = parents;
  if (!first || first.cron.trim() === '') return false;
  return parents.every((p) => p.cron === first.cron && p.timezone === first.timezone);
}

/**
 * The run of one other parent that completes an `all` occasion anchored at `anchor`: among `candidates` (that
 * parent's finished runs), those that satisfy the edge, may start children and are not consumed yet, scheduled at
 * the anchor's instant when the parents share a schedule, else within the window; the closest to the anchor wins
 * (a tie: the newest). Null: the occasion is not complete yet.
 */
export function pickPartner(
  anchor: Pick<ParentRun, 'scheduledAt'>,
  candidates: readonly ParentRun[],
  edge: Pick<DependencyEdge, 'on'>,
  job: Pick<JobEntity, 'retries' | 'updatedAt'>,
  consumed: ReadonlySet<number>,
  shared: boolean,
  windowMs: number,
): ParentRun | null {
  let best: ParentRun | null = null;
  for (const c of candidates) {
    if (consumed.has(c.id) || !startsChildren(c) || !satisfies(edge.on, outcomeOf(c, job))) continue;
    const distance = Math.abs(c.scheduledAt - anchor.scheduledAt);
    if (shared ? distance !== 0 : distance > windowMs) continue;
    if (!best) {
      best = c;
      continue;
    }
    const bestDistance = Math.abs(best.scheduledAt - anchor.scheduledAt);
    if (distance < bestDistance || (distance === bestDistance && c.id > best.id)) best = c;
  }
  return best;
}

/** Whether the runs of an occasion lie within the window of each other (the earliest to the latest). */
export function withinWindow(runs: readonly Pick<ParentRun, 'scheduledAt'>[], windowMs: number): boolean {
  const at = runs.map((r) => r.scheduledAt);
  return Math.max(...at) - Math.min(...at) <= windowMs;
}

/** The instant an occasion is ready, its child run's `scheduledAt`: the last of its parent runs' finishes. */
export function readyAt(runs: readonly Pick<ParentRun, 'finishedAt' | 'updatedAt'>[]): number {
  return Math.max(...runs.map((r) => r.finishedAt ?? r.updatedAt));
}
