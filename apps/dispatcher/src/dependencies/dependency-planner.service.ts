import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, Optional } from '@nestjs/common';
import { LogThrottle } from '@app/common';
import { APP_CONFIG, AppConfig } from '@app/config';
import {
  DependencyEdge,
  DependencyLedger,
  JobEntity,
  JobsRepository,
  LedgerPosition,
  ParentRun,
  RunLinksRepository,
} from '@app/persistence';
import { Timers } from '../common/timers.service';
import { readJobs } from '../launching/job-reads';
import { TickAnswer, TickClaimer } from '../scheduling/tick-claimer';
import {
  allOccasionKey,
  anyOccasionKey,
  outcomeOf,
  pickPartner,
  readyAt,
  satisfies,
  shareSchedule,
  startsChildren,
  withinWindow,
} from './dependency-rules';
import { ShardOwnership } from '../cluster/shard-ownership.service';

/**
 * How often the fast read looks for parents' finished runs: the delay from a parent's finish to its child's claim
 * (one indexed range read of what changed since the last one, and only while some job has parents).
 */
export const DEPENDENCY_PASS_MS = 50;
/** How often the settled read runs. */
const SETTLED_EVERY_MS = 1000;
/** A row is read again this long after it was written, for the rows a writer committed after the first read went by. */
export const DEPENDENCY_SETTLE_MS = 10_000;
/** Without a stored cursor (a new installation), the pass starts this far back. */
export const DEPENDENCY_LOOKBACK_MS = 15 * 60_000;
/** A stored cursor older than this (every dispatcher down for a day) starts here instead: older parents start nothing. */
export const DEPENDENCY_MAX_CATCH_UP_MS = 24 * 3600_000;
/** The pass's name in `pass_cursors`. */
const CURSOR = 'dependencies';
/** Rows a read takes at most; a pass makes at most MAX_READS reads of each kind. */
const PAGE = 500;
const MAX_READS = 4;
/** Runs of the fast read handled side by side at most. */
const FAST_PARALLEL = 64;
/** The set of parent jobs is read again this often. */
const PARENTS_TTL_MS = 1000;
/**
 * While no job has parents there is nothing for the fast read to find: the pass comes this often instead (reading
 * the set of parent jobs again each time), so an installation without dependencies is not woken 20 times a second
 * for it. A job given parents is seen as soon as before (the set was read once a second either way).
 */
const IDLE_PASS_MS = PARENTS_TTL_MS;
const TIMER = 'dependency-pass';
/** The stored cursor is written at most this often (a restart reads again at most this much: harmless, idempotent). */
const STORE_MS = 5000;
/**
 * A run whose children could not be started for this long (its claims failing, or held by another dispatcher's lock
 * for longer than a lock lives) is passed over by the settled read, logged, so that it can not hold the pass up.
 */
const GIVE_UP_MS = 60_000;
/** An `all` occasion's choice is made again at most this often when another pass took one of its runs meanwhile. */
const CHOICE_ATTEMPTS = 3;
/** Candidate runs of one other parent read for an `all` occasion at most. */
const CANDIDATES = 200;

/** A run's children are started (or owe nothing), or some claim is to be looked at again. */
/** `partly`: children planned by other dispatchers were left to them (and to the settled read). */
type Handled = 'done' | 'again' | 'partly';

/** The jobs a page of rows needs, read once for the page. */
class JobsOfPage {
  private readonly known = new Map<number, JobEntity | null>();

  constructor(private readonly repo: JobsRepository) {}

  async load(ids: Iterable<number>): Promise<void> {
    const missing = [...new Set(ids)].filter((id) => !this.known.has(id));
    if (missing.length === 0) return;
    const { jobs } = await readJobs(this.repo, missing);
    for (const id of missing) this.known.set(id, jobs.get(id) ?? null);
  }

  get(id: number): JobEntity | null {
    return this.known.get(id) ?? null;
  }
}

/**
 * Starts the children of finished parent runs (README, "Dependencies"). It reads the ledger's (updated_at, id)
 * order twice: a fast read right behind the writes, every DEPENDENCY_PASS_MS, and a settled read
 * DEPENDENCY_SETTLE_MS behind, which picks up rows committed after the fast read went by and retries what failed.
 * The settled position is stored in `pass_cursors` (shared, moved forward only), so a restart of every dispatcher
 * resumes there: a parent that finished while no dispatcher ran still starts its child.
 *
 * An occasion is started in two steps that are each safe to repeat: its parent runs are linked to the child's
 * occasion key in `run_links` (all or none; a run already linked to another occasion of the child refuses it), then
 * the occasion is claimed through TickClaimer under that key (the tick lock, the child's concurrency policy, the
 * ledger's unique key). Several dispatchers, a restart, or a pass over a row already handled find the links and the
 * run there and start nothing twice.
 */
@Injectable()
export class DependencyPlanner implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(DependencyPlanner.name);
  private readonly failures = new LogThrottle((m) => this.logger.warn(m));
  private fast: LedgerPosition | null = null;
  private settled: LedgerPosition | null = null;
  /** Rows the fast read started (by id, with their updated_at): the settled read passes over them. */
  private readonly handled = new Map<number, number>();
  private parents: { ids: Set<number>; readAt: number } | null = null;
  private storedAt = 0;
  private settledAt = 0;
  private stored: LedgerPosition | null = null;
  private stuck: { id: number; since: number } | null = null;
  private running = false;
  /** Whether the last pass did the settled read (see ShardOwnership.leads). */
  private ledLast = false;
  /** The pass's interval now: DEPENDENCY_PASS_MS while some job has parents, IDLE_PASS_MS otherwise. */
  private cadenceMs = 0;
  private stopped = false;

  constructor(
    private readonly ledger: DependencyLedger,
    private readonly links: RunLinksRepository,
    private readonly jobs: JobsRepository,
    private readonly claimer: TickClaimer,
    private readonly timers: Timers,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Optional() private readonly shards?: ShardOwnership,
  ) {}

  onApplicationBootstrap(): void {
    this.pace(DEPENDENCY_PASS_MS);
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    this.timers.clearInterval(TIMER);
  }

  /** Passes every `ms` from now on (the timer is replaced only when the interval changes). */
  private pace(ms: number): void {
    if (this.stopped || ms === this.cadenceMs) return;
    this.cadenceMs = ms;
    this.timers.every(TIMER, ms, () => this.pass());
  }

  /** One pass; answers how many parent runs it handled (for tests). Never runs twice at once. */
  async pass(now = Date.now()): Promise<number> {
    if (this.running) return 0;
    this.running = true;
    try {
      if (!this.settled || !this.fast) await this.start(now);
      const parents = await this.parentIds(now);
      if (this.cadenceMs > 0) this.pace(parents.size > 0 ? DEPENDENCY_PASS_MS : IDLE_PASS_MS);
      let handled = await this.readFast(parents, now);
      // The settled read (and the stored position) is one dispatcher's: the one leading. A new leader resumes from
      // the stored position, so what the last one had not passed is read again, never skipped.
      const leads = this.shards?.leads ?? true;
      if (leads && !this.ledLast) await this.resumeSettled(now);
      this.ledLast = leads;
      // The marks only spare the settled read work; another dispatcher does it (and does it over, harmlessly).
      if (!leads) this.handled.clear();
      if (leads && now - this.settledAt >= SETTLED_EVERY_MS) {
        this.settledAt = now;
        handled += await this.readSettled(parents, now);
        await this.store(now);
      }
      return handled;
    } catch (e) {
      this.failures.warn('pass', `dependency pass failed: ${(e as Error).message}`);
      return 0;
    } finally {
      this.running = false;
    }
  }

  private async start(now: number): Promise<void> {
    const stored = await this.ledger.cursor(CURSOR);
    const floor = now - DEPENDENCY_MAX_CATCH_UP_MS;
    const from = stored ?? { at: now - DEPENDENCY_LOOKBACK_MS, id: 0 };
    this.settled = from.at < floor ? { at: floor, id: 0 } : from;
    this.fast = { ...this.settled };
    this.stored = stored;
    if (stored && stored.at < floor) {
      this.logger.warn(
        `dependency cursor was at ${new Date(stored.at).toISOString()}: parents that finished before ` +
          `${new Date(floor).toISOString()} start no children`,
      );
    }
  }

  private async resumeSettled(now: number): Promise<void> {
    const stored = await this.ledger.cursor(CURSOR);
    const floor = now - DEPENDENCY_MAX_CATCH_UP_MS;
    const from = stored ?? { at: now - DEPENDENCY_LOOKBACK_MS, id: 0 };
    this.settled = from.at < floor ? { at: floor, id: 0 } : from;
    this.stored = stored;
  }

  private async parentIds(now: number): Promise<Set<number>> {
    // At the idle pace every pass reads it: an interval of PARENTS_TTL_MS may come a millisecond early.
    const known = this.parents;
    if (known && known.ids.size > 0 && now - known.readAt < PARENTS_TTL_MS) return known.ids;
    this.parents = { ids: new Set(await this.ledger.parentIds()), readAt: now };
    return this.parents.ids;
  }

  /** Right behind the writes: every row handled here is marked, so the settled read does not do it again. */
  private async readFast(parents: Set<number>, now: number): Promise<number> {
    let handled = 0;
    for (let n = 0; n < MAX_READS; n++) {
      const from = this.fast as LedgerPosition;
      if (parents.size === 0) {
        this.fast = later(from, { at: now, id: Number.MAX_SAFE_INTEGER });
        return handled;
      }
      const read = await this.ledger.finishedAfter(from, now, parents, PAGE);
      const todo = read.runs.filter((r) => !this.handled.has(r.id));
      const edges = await this.edgesOf(todo);
      const page = await this.pageFor(todo, edges);
      // Side by side, so that their claims travel together through the claim pipeline (one lock call, one INSERT);
      // an `all` child's occasions are chosen one at a time (serial()), each run's own children in order.
      const perChild = new Map<number, Promise<unknown>>();
      await inBatches(todo, FAST_PARALLEL, async (run) => {
        try {
          const answer = await this.handle(run, edges, page, perChild, true);
          // Marked only when every child is this dispatcher's: the settled read starts the others' if they did not.
          if (answer === 'done') this.handled.set(run.id, run.updatedAt);
          if (answer !== 'again') handled++;
        } catch (e) {
          // Left to the settled read, which retries it.
          this.failures.warn(`run:${run.id}`, `children of run ${run.id} not started yet: ${(e as Error).message}`);
        }
      });
      this.fast = read.reached ? later(from, read.reached) : from;
      if (!read.full) return handled;
    }
    return handled;
  }

  /** DEPENDENCY_SETTLE_MS behind: what the fast read missed or failed; the position stored for restarts. */
  private async readSettled(parents: Set<number>, now: number): Promise<number> {
    const upTo = now - DEPENDENCY_SETTLE_MS;
    let handled = 0;
    for (let n = 0; n < MAX_READS; n++) {
      const from = this.settled as LedgerPosition;
      if (parents.size === 0) {
        this.settled = later(from, { at: upTo, id: Number.MAX_SAFE_INTEGER });
        break;
      }
      const read = await this.ledger.finishedAfter(from, upTo, parents, PAGE);
      const todo = read.runs.filter((r) => !this.handled.has(r.id));
      const edges = await this.edgesOf(todo);
      const page = await this.pageFor(todo, edges);
      const perChild = new Map<number, Promise<unknown>>();
      let at = from;
      for (const run of read.runs) {
        if (!this.handled.has(run.id)) {
          let error: Error | null = null;
          try {
            if ((await this.handle(run, edges, page, perChild)) === 'again') {
              error = new Error('its occasion is being claimed elsewhere');
            }
          } catch (e) {
            error = e as Error;
          }
          if (error && this.holdsUp(run, error, now)) {
            this.settled = at; // this run is read again next pass
            return handled;
          }
          if (!error) {
            this.stuck = null;
            handled++;
          }
        }
        at = { at: run.updatedAt, id: run.id };
      }
      this.settled = read.reached ? later(from, read.reached) : from;
      if (!read.full) {
        this.settled = later(this.settled, { at: upTo, id: Number.MAX_SAFE_INTEGER });
        break;
      }
    }
    // What the settled read has passed needs no mark any more.
    const passed = (this.settled as LedgerPosition).at;
    for (const [id, updatedAt] of this.handled) if (updatedAt < passed) this.handled.delete(id);
    return handled;
  }

  /** True while the run may still hold the settled read up (it is tried again next pass). */
  private holdsUp(run: ParentRun, e: Error, now: number): boolean {
    if (this.stuck?.id !== run.id) this.stuck = { id: run.id, since: now };
    if (now - this.stuck.since < GIVE_UP_MS) {
      this.failures.warn(`run:${run.id}`, `children of run ${run.id} not started yet: ${e.message}`);
      return true;
    }
    this.logger.error({
      msg: `passing over the children of run ${run.id} after ${Math.round((now - this.stuck.since) / 1000)} s: ${e.message}`,
      runId: run.id,
      jobId: run.jobId,
    });
    this.stuck = null;
    return false;
  }

  private async store(now: number): Promise<void> {
    const at = this.settled;
    if (!at || now - this.storedAt < STORE_MS) return;
    if (this.stored && this.stored.at === at.at && this.stored.id === at.id) return;
    this.storedAt = now;
    await this.ledger.advanceCursor(CURSOR, at);
    this.stored = at;
  }

  private async edgesOf(runs: ParentRun[]): Promise<Map<number, DependencyEdge[]>> {
    const out = new Map<number, DependencyEdge[]>();
    const ids = [...new Set(runs.filter(startsChildren).map((r) => r.jobId))];
    if (ids.length === 0) return out;
    for (const e of await this.ledger.edgesFrom(ids)) {
      const list = out.get(e.parentId) ?? [];
      list.push(e);
      out.set(e.parentId, list);
    }
    return out;
  }

  /** Starts what one finished parent run owes its children: 'again' when some claim must be looked at again. */
  /** The jobs a page of runs needs (parents, children, the children's other parents), read before handling it. */
  private async pageFor(runs: ParentRun[], edges: Map<number, DependencyEdge[]>): Promise<JobsOfPage> {
    const page = new JobsOfPage(this.jobs);
    const children = new Set<number>();
    for (const r of runs) for (const e of edges.get(r.jobId) ?? []) children.add(e.childId);
    if (children.size === 0) return page;
    await page.load([...runs.map((r) => r.jobId), ...children]);
    const others: number[] = [];
    for (const id of children) for (const d of page.get(id)?.dependsOn ?? []) others.push(d.jobId);
    await page.load(others);
    return page;
  }

  private async handle(
    run: ParentRun,
    edges: Map<number, DependencyEdge[]>,
    page: JobsOfPage,
    perChild: Map<number, Promise<unknown>>,
    plannedOnly = false,
  ): Promise<Handled> {
    if (!startsChildren(run)) return 'done';
    const out = edges.get(run.jobId) ?? [];
    if (out.length === 0) return 'done';
    await page.load([run.jobId, ...out.map((e) => e.childId)]);
    const parent = page.get(run.jobId);
    // A deleted or paused parent starts nothing.
    if (!parent || !parent.enabled) return 'done';
    const outcome = outcomeOf(run, parent);
    let result: Handled = 'done';
    for (const edge of out) {
      if (!satisfies(edge.on, outcome)) continue;
      if (plannedOnly && this.shards && !this.shards.plans(edge.childId)) {
        if (result === 'done') result = 'partly';
        continue;
      }
      const child = page.get(edge.childId);
      // A disabled child ignores its parents; a child whose stored parents no longer name this one (an edit
      // between the two reads) too.
      if (!child || !child.enabled || !(child.dependsOn ?? []).some((d) => d.jobId === run.jobId)) continue;
      const answer =
        child.dependencyMode === 'any'
          ? await this.startAny(child, run)
          : await serial(perChild, child.id, () => this.startAll(child, run, page));
      if (answer === 'again') result = 'again';
    }
    return result;
  }

  /** `any`: one occasion per parent tick (its retries share it). */
  private async startAny(child: JobEntity, run: ParentRun): Promise<Handled> {
    let key = anyOccasionKey(run.jobId, run.tickKey);
    const reserved = await this.links.reserve(child.id, key, [{ runId: run.id, jobId: run.jobId }], {
      exclusive: false,
    });
    // Linked before (the child's mode changed since): that occasion is the one this run counts toward.
    if (reserved.kind === 'taken') key = reserved.taken.get(run.id) ?? key;
    return this.claim(child, key, readyAt([run]));
  }

  /** `all`: once every parent has a satisfying run of the same occasion. */
  private async startAll(child: JobEntity, run: ParentRun, page: JobsOfPage): Promise<Handled> {
    // Already counted toward an occasion (a pass before this one, here or elsewhere): make sure it is started.
    const linked = (await this.links.occasionsOf(child.id, [run.id])).get(run.id);
    if (linked !== undefined) return this.claimLinked(child, linked);
    const deps = child.dependsOn ?? [];
    await page.load(deps.map((d) => d.jobId));
    const parents = deps.map((d) => page.get(d.jobId));
    // A deleted or paused parent blocks the occasion.
    if (parents.some((p) => !p || !p.enabled)) return 'done';
    const shared = shareSchedule(parents as JobEntity[]);
    const window = child.dependencyWindowMs;
    const excluded = new Map<number, Set<number>>();
    const others = deps.filter((d) => d.jobId !== run.jobId);
    // Parents on one schedule: every partner is of the same instant, read in one statement with what is used up.
    const sameTick = shared
      ? await this.ledger.runsAt(
          others.map((d) => d.jobId),
          run.scheduledAt,
        )
      : [];
    const usedAtTick = shared
      ? await this.links.occasionsOf(
          child.id,
          sameTick.map((r) => r.id),
        )
      : new Map();
    for (let attempt = 0; attempt < CHOICE_ATTEMPTS; attempt++) {
      const chosen: ParentRun[] = [run];
      for (const dep of others) {
        const job = page.get(dep.jobId) as JobEntity;
        let candidates: ParentRun[];
        let used: Iterable<number>;
        if (shared) {
          candidates = sameTick.filter((r) => r.jobId === dep.jobId);
          used = usedAtTick.keys();
        } else {
          candidates = await this.ledger.candidates(
            dep.jobId,
            run.scheduledAt - window,
            run.scheduledAt + window,
            CANDIDATES,
          );
          used = (
            await this.links.occasionsOf(
              child.id,
              candidates.map((c) => c.id),
            )
          ).keys();
        }
        const consumed = new Set([...used, ...(excluded.get(dep.jobId) ?? [])]);
        const partner = pickPartner(run, candidates, dep, job, consumed, shared, window);
        if (!partner) return 'done'; // not complete yet: that parent's finish completes it
        chosen.push(partner);
      }
      if (!shared && !withinWindow(chosen, window)) return 'done';
      const refs = chosen.map((r) => ({ runId: r.id, jobId: r.jobId }));
      let key = allOccasionKey(chosen);
      let reserved = await this.links.reserve(child.id, key, refs, { exclusive: true });
      if (reserved.kind === 'key_taken') {
        // Another occasion of other runs has the same earliest instant: this one gets the longer key.
        key = allOccasionKey(chosen, true);
        reserved = await this.links.reserve(child.id, key, refs, { exclusive: true });
      }
      if (reserved.kind === 'reserved') return this.claim(child, key, readyAt(chosen));
      if (reserved.kind === 'key_taken') throw new Error(`occasion key ${key} of job ${child.id} is taken twice`);
      // This run was linked meanwhile (another dispatcher's pass): its occasion is the one.
      const mine = reserved.taken.get(run.id);
      if (mine !== undefined) return this.claimLinked(child, mine);
      // Another occasion took a partner: choose again without it.
      for (const id of reserved.taken.keys()) {
        const taken = chosen.find((r) => r.id === id) as ParentRun;
        const set = excluded.get(taken.jobId) ?? new Set<number>();
        set.add(id);
        excluded.set(taken.jobId, set);
      }
    }
    return 'again';
  }

  /** Claims an occasion whose links exist: its instant is the last finish of the runs linked to it. */
  private async claimLinked(child: JobEntity, key: string): Promise<Handled> {
    const ids = (await this.links.parentRunIdsOf([{ jobId: child.id, tickKey: key }])).values().next().value ?? [];
    const runs = await this.ledger.runsByIds(ids);
    if (runs.length === 0) return 'done'; // its parent runs are pruned: long past
    return this.claim(child, key, readyAt(runs));
  }

  private async claim(child: JobEntity, key: string, at: number): Promise<Handled> {
    const answer: TickAnswer = await this.claimer.claimOccasion(child, key, at);
    if (answer.kind === 'held') return 'again';
    if (answer.kind === 'claimed') {
      this.logger.log({
        msg: 'dependency run claimed',
        jobId: child.id,
        tickKey: key,
        dispatcherId: this.config.dispatcher.id,
      });
    }
    return 'done';
  }
}

/** Runs `fn` after whatever runs under `key` in `chain` ended: one at a time per key. */
function serial<T>(chain: Map<number, Promise<unknown>>, key: number, fn: () => Promise<T>): Promise<T> {
  const before = chain.get(key) ?? Promise.resolve();
  const mine = before.then(fn, fn);
  chain.set(
    key,
    mine.catch(() => undefined),
  );
  return mine;
}

/** Calls `fn` for every item, at most `width` at a time. */
async function inBatches<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(fn));
}

/** The later of two ledger positions. */
function later(a: LedgerPosition, b: LedgerPosition): LedgerPosition {
  return b.at > a.at || (b.at === a.at && b.id > a.id) ? b : a;
}
