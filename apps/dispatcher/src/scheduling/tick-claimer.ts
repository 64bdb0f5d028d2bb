import { Inject, Injectable, Logger } from '@nestjs/common';
import { LogThrottle } from '@app/common';
import { APP_CONFIG, AppConfig } from '@app/config';
import { TICK_LOCK, TickLock, tickLockKey } from '@app/locking';
import { ActiveRunRow, JobEntity, NewRun, RunBatchRepository, RunsRepository } from '@app/persistence';
import { ExecutorPool } from '../executor-client/executor-pool.service';
import { EventsService } from '../events/events.service';
import { RunCanceller } from '../launching/run-canceller.service';
import { RunLauncher, RunToOffer } from '../launching/run-launcher.service';
import { decideTick, ledgerRow, rowsOf, tickKeyOf, TickDecision, TickRecord } from './tick-policy';

/**
 * A tick lock outlives the claim (milliseconds) by far; the ledger key is the real fence if it does not. Short, so
 * a holder that dies between lock and insert delays the tick by at most this much.
 */
export const LOCK_TTL_MS = 5_000;
/** Rows inserted (and offered) at a time within one firing. */
const PIPELINE_SLICE = 250;

/** A scheduled tick to claim: answered true once it is recorded (by us or already), false while another holds it. */
interface TickRequest {
  kind: 'tick';
  job: JobEntity;
  at: number;
  trigger: 'schedule' | 'misfire';
  resolve: (claimedOrRecorded: boolean) => void;
  reject: (e: Error) => void;
}

/** A final record that takes no lock (a dropped range, a missed tick): answered with its id, or null if taken. */
interface RecordRequest {
  kind: 'record';
  job: JobEntity;
  row: NewRun;
  resolve: (id: number | null) => void;
  reject: (e: Error) => void;
}

type ClaimRequest = TickRequest | RecordRequest;

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
 *    the slice's ticks replace.
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
   * Claims a scheduled tick: true when it is recorded now (by us, as a run or a `skipped` record) or already was;
   * false when another dispatcher holds its lock right now (the caller looks again shortly).
   */
  claimTick(job: JobEntity, at: number, trigger: 'schedule' | 'misfire'): Promise<boolean> {
    return new Promise((resolve, reject) => this.enqueue({ kind: 'tick', job, at, trigger, resolve, reject }));
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
    const ticks = batch.filter((r): r is TickRequest => r.kind === 'tick');
    const keys = ticks.map((r) => tickLockKey(this.config.redis.prefix, r.job.id, tickKeyOf(r.at), 1));
    const held = await this.lock.tryAcquireMany(keys, LOCK_TTL_MS);
    const mine = ticks.filter((r, i) => {
      if (!held[i]) r.resolve(false);
      return held[i];
    });
    try {
      const now = Date.now();
      const decided = await this.decide(mine);
      const planned: PlannedRow[] = [];
      for (const r of batch) {
        if (r.kind === 'record') {
          planned.push({ row: r.row, request: r });
          continue;
        }
        const decision = decided.get(r); // none: another dispatcher holds the tick's lock, or its reads failed
        if (!decision) continue;
        for (const row of rowsOf(r.job, r.at, r.trigger, decision, this.config.dispatcher.id, now)) {
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
        this.settle(slice, ids, decided, replacing);
      }
      for (const r of mine) r.resolve(true);
    } finally {
      await this.lock.releaseMany(keys.filter((_, i) => held[i]));
    }
  }

  /**
   * Decides every held tick, with the ledger reads the decisions need done once for the whole batch. A tick whose
   * own read fails is answered with the error alone; the others go on.
   */
  private async decide(mine: TickRequest[]): Promise<Map<TickRequest, TickDecision>> {
    const watched = [...new Set(mine.filter((r) => r.job.concurrency !== 'allow').map((r) => r.job.id))];
    const active = await this.ledger.findActiveOf(watched);
    // Broadcast jobs are few; their record checks run side by side.
    const recorded = new Map<TickRequest, boolean>();
    await Promise.all(
      mine
        .filter((r) => r.job.routing === 'broadcast')
        .map((r) =>
          this.runs.tickHasRecord(r.job.id, tickKeyOf(r.at)).then(
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
        decideTick(r.job, tickKeyOf(r.at), {
          active: r.job.concurrency === 'allow' ? NONE : (active.get(r.job.id) ?? NONE),
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
  ): void {
    const offers: RunToOffer[] = [];
    const afterReplace = new Map<TickRequest, RunToOffer[]>();
    slice.forEach(({ row, request }, k) => {
      const id = ids[k];
      if (request.kind === 'record') request.resolve(id);
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

const NONE: readonly ActiveRunRow[] = [];
const NONE_ADDRESSES: readonly string[] = [];
