import { Inject, Injectable, Logger } from '@nestjs/common';
import { LogThrottle } from '@app/common';
import { APP_CONFIG, AppConfig } from '@app/config';
import { TICK_LOCK, TickLock, tickLockKey } from '@app/locking';
import { ActiveRunRow, JobEntity, NewRun, RunBatchRepository, RunsRepository, tickRef } from '@app/persistence';
import { ExecutorPool } from '../executor-client/executor-pool.service';
import { EventsService } from '../events/events.service';
import { RunCanceller } from '../launching/run-canceller.service';
import { RunLauncher, RunToOffer } from '../launching/run-launcher.service';
import type { DroppedTicks } from './tick-planner';
import {
  ClaimTrigger,
  decideTick,
  droppedRecord,
  ledgerRow,
  rowsOf,
  tickKeyOf,
  TickDecision,
  TickRecord,
} from './tick-policy';

/**
 * A tick lock outlives the claim (milliseconds) by far; the ledger key is the real fence if it does not. Short, so
 * a holder that dies between lock and insert delays the tick by at most this much.
 */
export const LOCK_TTL_MS = 5_000;
/** Rows inserted (and offered) at a time within one firing. */
const PIPELINE_SLICE = 250;

/** What claiming a tick (or recording a dropped range under its first tick's key) came to. */
export type TickAnswer =
  /** Recorded now, by this dispatcher: a run, a `skipped` tick or the dropped range. */
  | { kind: 'claimed' }
  /**
   * The key already had its record, written elsewhere. The ticks up to `through` are recorded: the tick itself, or,
   * when the record is a dropped range that starts at this tick, every tick to the range's end (none of them is to
   * be claimed).
   */
  | { kind: 'recorded'; through: number }
  /** Another dispatcher holds the tick's lock right now: look again shortly. */
  | { kind: 'held' };

const CLAIMED: TickAnswer = Object.freeze({ kind: 'claimed' });
const HELD: TickAnswer = Object.freeze({ kind: 'held' });

/** A scheduled tick, or a dependency occasion, to claim. */
interface TickRequest {
  kind: 'tick';
  job: JobEntity;
  at: number;
  /** Its ledger and lock key: `tickKeyOf(at)` for a scheduled tick, the occasion's key for a dependency. */
  key: string;
  trigger: ClaimTrigger;
  /** The job's previous tick, recorded (the caller's cursor): a `forbid` skip folds into its skip record. */
  prev?: number;
  resolve: (answer: TickAnswer) => void;
  reject: (e: Error) => void;
}

/** The one record of the ticks a misfire policy drops, under its first tick's key, with that tick's lock. */
interface RangeRequest {
  kind: 'range';
  job: JobEntity;
  /** The range's first tick: its lock and ledger key are the range's. */
  at: number;
  row: NewRun;
  resolve: (answer: TickAnswer) => void;
  reject: (e: Error) => void;
}

/** A final record that takes no lock (a missed tick): answered with its id, or null if taken. */
interface RecordRequest {
  kind: 'record';
  job: JobEntity;
  row: NewRun;
  resolve: (id: number | null) => void;
  reject: (e: Error) => void;
}

type ClaimRequest = TickRequest | RangeRequest | RecordRequest;
/** The requests that take a tick's lock and are answered with a TickAnswer. */
type LockedRequest = TickRequest | RangeRequest;

/** A row to insert and the request it answers. */
interface PlannedRow {
  row: NewRun;
  request: ClaimRequest;
}

/**
 * The one way a tick becomes a ledger record. The requests of one turn of the event loop (each job's mailbox asks
 * for its own tick and waits for its own answer, so per-job order is unchanged) travel together:
 *
 * 1. one lock call takes every tick's own key (`{prefix}:lock:{jobId}:{tickKey}:1`);
 * 2. one query reads the active runs the concurrency policies look at, and broadcast ticks look for any record;
 * 3. `decideTick` applies the policies, the same function for every job;
 * 4. one multi-row INSERT per slice of 250 rows (the ledger's unique key is the final fence), each slice offered to
 *    the executors as soon as it is in the ledger (one RunBatch per executor), after `replace` has cancelled what
 *    the slice's ticks replace;
 * 5. for the ticks whose key was taken, one read of how far the records there reach, so that a tick that opens a
 *    dropped range is answered with the range's end.
 *
 * At 1,000 ticks a second the one-tick-at-a-time path spent its time in round trips and TypeORM
 * (docs/benchmarks.md).
 */
@Injectable()
export class TickClaimer {
  private readonly logger = new Logger(TickClaimer.name);
  private readonly failures = new LogThrottle((m) => this.logger.warn(m));
  private queue: ClaimRequest[] = [];
  private flushQueued = false;

  constructor(
    @Inject(TICK_LOCK) private readonly lock: TickLock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly ledger: RunBatchRepository,
    private readonly runs: RunsRepository,
    private readonly launcher: RunLauncher,
    private readonly canceller: RunCanceller,
    private readonly pool: ExecutorPool,
    private readonly events: EventsService,
  ) {}

  /**
   * Claims a scheduled tick, by the job's concurrency policy and routing (see TickAnswer). `prev`: the job's previous
   * tick, known recorded; a `forbid` skip of this tick behind the same run as that tick's skip is folded into its
   * record instead of writing a row of its own.
   */
  claimTick(job: JobEntity, at: number, trigger: 'schedule' | 'misfire', prev?: number): Promise<TickAnswer> {
    return new Promise((resolve, reject) =>
      this.enqueue({ kind: 'tick', job, at, key: tickKeyOf(at), trigger, prev, resolve, reject }),
    );
  }

  /**
   * Claims a dependency occasion of `job` under its own key (DependencyPlanner): the same lock, policies, ledger key
   * and offer as a scheduled tick, with `at` (the parents' finish) as the run's `scheduledAt`. `recorded` when the
   * key already has its run: the occasion is started, by this dispatcher earlier or by another.
   */
  claimOccasion(job: JobEntity, key: string, at: number): Promise<TickAnswer> {
    return new Promise((resolve, reject) =>
      this.enqueue({ kind: 'tick', job, at, key, trigger: 'dependency', resolve, reject }),
    );
  }

  /**
   * Records the ticks a misfire policy drops as one `skipped` record under the key of their first tick, with that
   * tick's lock: the same key and lock a claim of that tick takes, so of a range and a run of its first tick only one
   * is ever written. `claimed` when the range is recorded; `recorded` when its first tick already has a record (the
   * caller plans again from `through`); `held` when another dispatcher is claiming that tick right now.
   */
  claimRange(job: JobEntity, dropped: DroppedTicks): Promise<TickAnswer> {
    const row = ledgerRow(job, droppedRecord(job, dropped), this.config.dispatcher.id);
    return new Promise((resolve, reject) =>
      this.enqueue({ kind: 'range', job, at: dropped.from, row, resolve, reject }),
    );
  }

  /** Writes a final first-attempt record under its own ledger key; its id, or null when the key was taken. */
  record(job: JobEntity, tick: TickRecord): Promise<number | null> {
    const row = ledgerRow(job, tick, this.config.dispatcher.id);
    return new Promise((resolve, reject) => this.enqueue({ kind: 'record', job, row, resolve, reject }));
  }

  private enqueue(request: ClaimRequest): void {
    this.queue.push(request);
    if (this.flushQueued) return;
    this.flushQueued = true;
    // After the current turn: every mailbox woken by this timer firing has asked by then.
    setImmediate(() => void this.flush());
  }

  private async flush(): Promise<void> {
    this.flushQueued = false;
    const batch = this.queue;
    this.queue = [];
    try {
      await this.claim(batch);
    } catch (e) {
      for (const r of batch) r.reject(e as Error);
    }
  }

  private async claim(batch: ClaimRequest[]): Promise<void> {
    // A broadcast job's runs sit under per-executor keys, which a range's or a missed tick's empty key does not
    // collide with: for those jobs these records also take the tick's lock and look for any record of the tick.
    const fencedRecords = batch.filter((r): r is RecordRequest => r.kind === 'record' && r.job.routing === 'broadcast');
    const locked = batch.filter((r): r is LockedRequest => r.kind !== 'record');
    const keys = [
      ...locked.map((r) => tickLockKey(this.config.redis.prefix, r.job.id, keyOf(r), 1)),
      ...fencedRecords.map((r) => tickLockKey(this.config.redis.prefix, r.job.id, r.row.tickKey, 1)),
    ];
    const held = await this.lock.tryAcquireMany(keys, LOCK_TTL_MS);
    const mine = locked.filter((r, i) => {
      if (!held[i]) r.resolve(HELD);
      return held[i];
    });
    // A missed record whose tick's lock someone holds is not written now: the sweeper looks again.
    const skipped = new Set<ClaimRequest>(
      fencedRecords.filter((r, i) => {
        if (!held[locked.length + i]) r.resolve(null);
        return !held[locked.length + i];
      }),
    );
    try {
      const now = Date.now();
      const decided = await this.decide(mine.filter((r): r is TickRequest => r.kind === 'tick'));
      for (const r of await this.broadcastRecorded([
        ...mine.filter((r): r is RangeRequest => r.kind === 'range'),
        ...fencedRecords.filter((r) => !skipped.has(r)),
      ])) {
        // The tick already has a record on some executor key: a range starting there is not written (answer()
        // reads how far the record reaches), a missed record is not either.
        skipped.add(r);
        if (r.kind === 'record') r.resolve(null);
      }
      const planned: PlannedRow[] = [];
      /** The held requests that wrote a row (the others found their key taken, or the tick already recorded). */
      const wrote = new Set<LockedRequest>();
      const folded = await this.foldSkips(decided, wrote);
      const isMine = new Set<ClaimRequest>(mine);
      for (const r of batch) {
        if (r.kind !== 'tick') {
          if ((r.kind === 'range' && !isMine.has(r)) || skipped.has(r)) continue;
          planned.push({ row: r.row, request: r });
          continue;
        }
        const decision = decided.get(r); // none: another dispatcher holds the tick's lock, or its reads failed
        if (!decision || folded.has(r)) continue;
        for (const row of rowsOf(r.job, r.at, r.trigger, decision, this.config.dispatcher.id, now, r.key)) {
          planned.push({ row, request: r });
        }
      }
      const replacing = new Map<TickRequest, Promise<void>>();
      // A slice at a time, each offered as soon as it is in the ledger: the executor takes the first slice while
      // the next is being inserted, so the last run of a large firing starts sooner.
      for (let c = 0; c < planned.length; c += PIPELINE_SLICE) {
        if (c > 0) await new Promise((resolve) => setImmediate(resolve)); // let the previous slice's call go out
        const slice = planned.slice(c, c + PIPELINE_SLICE);
        const ids = await this.ledger.claimMany(
          slice.map((p) => p.row),
          now,
        );
        this.settle(slice, ids, decided, replacing, wrote);
      }
      await this.answer(
        mine.filter((r) => r.kind === 'range' || decided.has(r)),
        decided,
        wrote,
      );
    } finally {
      await this.lock.releaseMany(keys.filter((_, i) => held[i]));
    }
  }

  /**
   * Answers the held ticks and ranges. Those that wrote a row are claimed. For the others (their key was taken, or a
   * broadcast tick already has records) one read says how far the record under the key reaches: past the tick when
   * another dispatcher recorded a dropped range starting there. A tick that `forbid` or `replace` found active is
   * its own run and reaches no further. If that read fails, only the ticks that waited for it are answered with the
   * error.
   */
  private async answer(
    held: LockedRequest[],
    decided: Map<TickRequest, TickDecision>,
    wrote: Set<LockedRequest>,
  ): Promise<void> {
    const taken: LockedRequest[] = [];
    for (const r of held) {
      if (wrote.has(r)) r.resolve(CLAIMED);
      else if (r.kind === 'tick' && r.job.routing !== 'broadcast' && decided.get(r)?.kind === 'recorded') {
        r.resolve({ kind: 'recorded', through: r.at });
      } else taken.push(r);
    }
    if (taken.length === 0) return;
    let reach: Map<string, number>;
    try {
      reach = await this.runs.reachOf(taken.map((r) => ({ jobId: r.job.id, tickKey: keyOf(r) })));
    } catch (e) {
      for (const r of taken) r.reject(e as Error);
      return;
    }
    for (const r of taken) {
      const through = Math.max(r.at, reach.get(tickRef(r.job.id, keyOf(r))) ?? r.at);
      r.resolve({ kind: 'recorded', through });
    }
  }

  /**
   * `forbid` skips behind the same active run as the job's previous tick fold into that tick's skip record (one
   * record, its count growing, instead of a row a tick: a job that runs for hours while scheduled every second wrote
   * thousands). Answers the requests dealt with here: folded (marked in `wrote`), or refused because another record
   * already holds the tick's key (left for answer() to read how far it reaches). The others are inserted as today.
   * Misfire-triggered ticks and broadcast jobs are not folded.
   */
  private async foldSkips(
    decided: Map<TickRequest, TickDecision>,
    wrote: Set<LockedRequest>,
  ): Promise<Set<TickRequest>> {
    const candidates: { r: TickRequest; reason: string }[] = [];
    for (const [r, d] of decided) {
      if (d.kind !== 'skip' || r.trigger !== 'schedule' || r.prev === undefined || r.job.routing === 'broadcast')
        continue;
      candidates.push({ r, reason: d.reason });
    }
    const done = new Set<TickRequest>();
    if (candidates.length === 0) return done;
    const answers = await this.ledger.extendSkips(
      candidates.map(({ r, reason }) => ({
        jobId: r.job.id,
        prevKey: tickKeyOf(r.prev as number),
        tickKey: tickKeyOf(r.at),
        scheduledAt: r.at,
        reason,
      })),
    );
    answers.forEach((a, i) => {
      if (a === 'absent') return;
      done.add(candidates[i].r);
      if (a === 'extended') wrote.add(candidates[i].r);
    });
    return done;
  }

  /**
   * The ranges and missed records of broadcast jobs whose first tick already has a record on any executor key
   * (read under the tick's lock). A failed read rejects its request alone.
   */
  private async broadcastRecorded(
    requests: (RangeRequest | RecordRequest)[],
  ): Promise<(RangeRequest | RecordRequest)[]> {
    const found: (RangeRequest | RecordRequest)[] = [];
    await Promise.all(
      requests
        .filter((r) => r.job.routing === 'broadcast')
        .map((r) =>
          this.runs.tickHasRecord(r.job.id, r.row.tickKey).then(
            (has) => {
              if (has) found.push(r);
            },
            (e: Error) => {
              found.push(r);
              r.reject(e);
            },
          ),
        ),
    );
    return found;
  }

  /**
   * Decides every held tick, with the ledger reads the decisions need done once for the whole batch. A tick whose
   * own read fails is answered with the error alone; the others go on.
   */
  private async decide(mine: TickRequest[]): Promise<Map<TickRequest, TickDecision>> {
    const watchedTicks = mine.filter((r) => r.job.concurrency !== 'allow');
    const watched = [...new Set(watchedTicks.map((r) => r.job.id))];
    // A tick inside a record that covers several ticks is recorded, though its own key is free: folded skips move
    // their key to their newest tick, so a dispatcher that comes to an older one late must find it here.
    const earliest = Math.min(...watchedTicks.map((r) => r.at));
    const [active, ranges] = await Promise.all([
      this.ledger.findActiveOf(watched),
      watched.length > 0 ? this.ledger.skipRangesReaching(watched, earliest) : new Map<number, [number, number][]>(),
    ]);
    // Broadcast jobs are few; their record checks run side by side.
    const recorded = new Map<TickRequest, boolean>();
    await Promise.all(
      mine
        .filter((r) => r.job.routing === 'broadcast')
        .map((r) =>
          this.runs.tickHasRecord(r.job.id, r.key).then(
            (has) => recorded.set(r, has),
            (e: Error) => r.reject(e),
          ),
        ),
    );
    const decided = new Map<TickRequest, TickDecision>();
    for (const r of mine) {
      const isBroadcast = r.job.routing === 'broadcast';
      if (isBroadcast && !recorded.has(r)) continue; // its read failed: rejected above
      decided.set(
        r,
        decideTick(r.job, r.key, {
          active: r.job.concurrency === 'allow' ? NONE : (active.get(r.job.id) ?? NONE),
          // Ranges cover scheduled ticks; a dependency occasion is never inside one.
          covered:
            r.job.concurrency !== 'allow' &&
            r.trigger !== 'dependency' &&
            (ranges.get(r.job.id) ?? []).some(([from, to]) => from <= r.at && r.at <= to),
          recorded: recorded.get(r) ?? false,
          executors: isBroadcast ? this.pool.broadcastTargets(r.job.group).map((e) => e.address) : NONE_ADDRESSES,
        }),
      );
    }
    return decided;
  }

  /**
   * Answers the slice's record requests and hands its pending runs to the executors, without waiting for their
   * answers. The runs of a `replace` tick go out once the earlier runs it replaces are cancelled; that happens
   * outside the claim (a cancel waits for an executor), once per tick even when its rows span two slices.
   */
  private settle(
    slice: PlannedRow[],
    ids: (number | null)[],
    decided: Map<TickRequest, TickDecision>,
    replacing: Map<TickRequest, Promise<void>>,
    wrote: Set<LockedRequest>,
  ): void {
    const offers: RunToOffer[] = [];
    const afterReplace = new Map<TickRequest, RunToOffer[]>();
    slice.forEach(({ row, request }, k) => {
      const id = ids[k];
      if (request.kind === 'record') request.resolve(id);
      else if (id !== null) wrote.add(request);
      if (id === null) return; // another dispatcher (or an earlier row of this batch) recorded it first
      this.events.runChanged(id);
      if (row.status !== 'pending') return;
      const offer = { run: { ...row, id, executorKey: row.executorKey ?? '' }, job: request.job };
      const decision = request.kind === 'tick' ? decided.get(request) : undefined;
      if (request.kind !== 'tick' || decision?.kind !== 'run' || !decision.replaceEarlier) {
        offers.push(offer);
        return;
      }
      const list = afterReplace.get(request) ?? [];
      list.push(offer);
      afterReplace.set(request, list);
    });
    this.offer(offers);
    for (const [r, runs] of afterReplace) {
      const replaced = replacing.get(r) ?? this.replaceEarlier(r);
      replacing.set(r, replaced);
      void replaced.then(() => this.offer(runs));
    }
  }

  private offer(offers: RunToOffer[]): void {
    if (offers.length === 0) return;
    void this.launcher
      .offer(offers)
      .catch((e: Error) => this.failures.warn('offer', `offer of ${offers.length} run(s) failed: ${e.message}`));
  }

  /** `replace`: the job's active runs of earlier ticks are cancelled, once this tick is surely ours. */
  private async replaceEarlier(r: TickRequest): Promise<void> {
    try {
      const earlier = (await this.runs.findActive(r.job.id)).filter((run) => run.scheduledAt < r.at);
      for (const run of earlier) {
        await this.canceller.cancel(run, `replaced by the tick of ${new Date(r.at).toISOString()}`);
      }
    } catch (e) {
      // The tick is claimed: a later tick's claim finds it recorded and does not cancel either, so say so here.
      this.logger.warn({ msg: `replace could not cancel earlier runs: ${(e as Error).message}`, jobId: r.job.id });
    }
  }
}

/** The ledger and lock key of a locked request: a range's is its first tick's. */
const keyOf = (r: LockedRequest): string => (r.kind === 'tick' ? r.key : tickKeyOf(r.at));

const NONE: readonly ActiveRunRow[] = [];
const NONE_ADDRESSES: readonly string[] = [];
