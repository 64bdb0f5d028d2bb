import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@app/config';
import { JobEntity, jobTaskOf, LedgerKey, RunBatchRepository, RunStarts } from '@app/persistence';
import type { FollowOutputRequest, HealthReply, RunOutcome, RunRefusal, RunReply, RunRequest } from '@app/protocol';
import { ActiveRun, ActiveRuns } from './active-runs';
import { JobCache } from './job-cache';
import { LedgerWatch } from './ledger-watch.service';
import { Presence } from './presence.service';
import { SecretOpener } from './secret-opener';
import { ChunkSink, followOutput, RECONNECT_KEEP_MS } from './output-follower';
import { followRequestProblems, runRequestProblems } from './run-request.validator';
import { isDependencyRun, ParentContexts } from './parent-contexts';
import { MAX_FOLLOWERS } from './runners/live-output';
import { RoomWaiters } from './room-waiters';
import { TaskError } from './task-errors';
import { Launch, TaskLauncher } from './task-launcher';

/** Characters of a Cancel's reason kept as the run's error. */
const CANCEL_REASON_MAX = 500;
/** The longest a RunBatch is held for room, whatever its wait_ms asks (the dispatcher's deadline is 3 s). */
export const MAX_ROOM_WAIT_MS = 1000;
/** A held call is answered this long before its deadline at the latest, so the answer arrives in time. */
const DEADLINE_MARGIN_MS = 100;

/** The gRPC call a RunBatch came on, as far as holding it for room needs: it is not held once its caller is gone. */
export interface HeldCall {
  readonly cancelled: boolean;
  /** Epoch ms; Infinity when the call has none. */
  readonly deadlineMs: number;
}

/** A run whose slot is reserved: its ledger key as the request names it, and the version of its job named with it. */
interface Taking {
  run: LedgerKey;
  jobVersion: number;
  slot: ActiveRun;
  outcome: RunOutcome;
}

/** The run's ledger key as the request names it (checked against the row by the start's compare-and-set). */
function ledgerKeyOf(req: RunRequest): LedgerKey {
  return {
    id: req.runId,
    jobId: req.jobId,
    tickKey: req.tickKey,
    attempt: req.attempt,
    executorKey: req.executorKey,
    scheduledAt: Date.parse(req.scheduledAt),
  };
}

/** Each job of the batch with the highest version its runs were offered for. */
function offeredVersions(taking: Taking[]): Map<number, number> {
  const versions = new Map<number, number>();
  for (const t of taking) versions.set(t.run.jobId, Math.max(versions.get(t.run.jobId) ?? 0, t.jobVersion));
  return versions;
}

/**
 * What the gRPC service does: admits runs up to `capacity` (one ledger compare-and-set for a whole RunBatch, the
 * fence between executors offered the same run, and between a caller and a run that is not the job it names), stops
 * them on request, and reports load. Launching is TaskLauncher's, discovery and draining Presence's, the ledger watch
 * LedgerWatch's.
 */
@Injectable()
export class TasksService {
  /** RunBatch calls held for room (wait_ms), woken as slots free. */
  private readonly room = new RoomWaiters();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly batch: RunBatchRepository,
    private readonly jobs: JobCache,
    private readonly active: ActiveRuns,
    private readonly launcher: TaskLauncher,
    private readonly presence: Presence,
    private readonly ledger: LedgerWatch,
    private readonly secrets: SecretOpener,
    private readonly parents: ParentContexts,
  ) {
    // (A call held when draining starts is answered DRAINING when next woken, AT_CAPACITY at the end of its wait.)
    active.onRelease(() => this.room.freed());
  }

  get executorId(): string {
    return this.config.executor.id;
  }

  /**
   * Identity and load; refused (UNAVAILABLE, with the reason) while the schema is not there, so that a dispatcher
   * probing static targets lists this executor only once it can take runs.
   */
  health(): HealthReply {
    const notReady = this.ledger.notReadyReason();
    if (notReady) throw new TaskError('LEDGER_DOWN', notReady);
    const d = this.presence.describe();
    return {
      executorId: d.id,
      group: d.group,
      capacity: d.capacity,
      running: d.running,
      startedAt: d.startedAt,
      draining: d.draining,
      runIds: this.active.ids(),
      address: d.address,
    };
  }

  /** One run (the `Run` RPC): the batch path with one element, its refusal thrown as a coded error. */
  async start(req: RunRequest): Promise<RunReply> {
    const [outcome] = await this.startMany([req]);
    if (!outcome.accepted) throw new TaskError(outcome.code || 'LEDGER_DOWN', outcome.message);
    return { accepted: true, executorId: this.executorId };
  }

  /**
   * Starts what it can of `reqs`, up to capacity; every run is answered on its own. A run already running here is
   * accepted again (idempotent by run id). Nothing of a request but the run's ledger key (and a hint of its job's
   * version) is used: the jobs are read from the ledger (JobCache: one query for the batch's jobs, none when they are
   * current), a job of another group is refused before anything is written, and one compare-and-set for the batch
   * moves each run to running only under the key it was offered with (a run named as another job's stays pending).
   * The task, its timeout and retries come from the job's row, a dependency run's parents from the ledger too
   * (withParents). A run named twice in one batch (a broker redelivery beside a republished copy) is decided once:
   * the copy gets the first one's outcome, never a refusal of its own (a copy refused as INVALID would fail a run the
   * first one was only told "not now" for).
   */
  async startMany(reqs: RunRequest[], waitMs = 0, call?: HeldCall): Promise<RunOutcome[]> {
    const firstOf = new Map<number, number>();
    const unique: RunRequest[] = [];
    const at = reqs.map((req) => {
      const valid = runRequestProblems(req).length === 0;
      const first = valid ? firstOf.get(req.runId) : undefined;
      if (first !== undefined) return first;
      if (valid) firstOf.set(req.runId, unique.length);
      unique.push(req);
      return unique.length - 1;
    });
    if (unique.length === reqs.length) return this.startWaiting(reqs, waitMs, call);
    const outcomes = await this.startWaiting(unique, waitMs, call);
    return at.map((i) => ({ ...outcomes[i] }));
  }

  /**
   * startUnique; then, when the caller may wait (`waitMs`, at most MAX_ROOM_WAIT_MS), the runs refused only for want
   * of room are tried again each time this call's turn for freed slots comes, until they are all decided or the wait
   * is over. A dispatcher thus learns of room the moment runs finish, instead of offering again on a timer (each
   * futile offer cost both sides a read, a request and a refusal per run). A call whose caller cancelled it or
   * whose deadline is near is not held further; at most MAX_ROOM_WAITERS calls are held at once (RoomWaiters).
   */
  private async startWaiting(reqs: RunRequest[], waitMs: number, call?: HeldCall): Promise<RunOutcome[]> {
    const { capacity } = this.config.executor;
    // The wait counts from the call's arrival, and ends before the caller's deadline would.
    const until = Math.min(
      Date.now() + Math.min(Math.max(0, waitMs), MAX_ROOM_WAIT_MS),
      (call?.deadlineMs ?? Infinity) - DEADLINE_MARGIN_MS,
    );
    const order = this.room.ticket();
    let seen = this.room.generation;
    const outcomes = await this.startUnique(reqs);
    for (;;) {
      const refused = outcomes.flatMap((o, i) => (o.code === 'AT_CAPACITY' ? [i] : []));
      const left = until - Date.now();
      if (refused.length === 0 || left <= 0 || call?.cancelled) break;
      // Slots freed while this call was deciding (tasks ending, its own runs failing to start) woke nobody when no
      // older call waits: the call was out of the queue. It tries them now rather than wait for the next freeing.
      const freedMeanwhile =
        this.room.generation !== seen && this.active.size < capacity && this.room.headOrder > order;
      if (!freedMeanwhile && !(await this.room.wait(left, order))) break;
      if (call?.cancelled) {
        // The wake this call took is passed on: the room it was for is still free.
        if (this.active.size < capacity) this.room.passOn();
        break;
      }
      seen = this.room.generation;
      // What can fit, no more: the rest stay refused for room without being looked at again.
      const fit = refused.slice(0, Math.max(0, capacity - this.active.size));
      if (fit.length > 0) {
        const again = await this.startUnique(fit.map((i) => reqs[i]));
        fit.forEach((i, k) => (outcomes[i] = again[k]));
      }
      // Room left after this call took what fitted: the next call waiting tries.
      if (this.active.size < capacity) this.room.passOn();
    }
    return outcomes;
  }

  private async startUnique(reqs: RunRequest[]): Promise<RunOutcome[]> {
    const outcomes: RunOutcome[] = [];
    const refuse = (req: RunRequest, code: RunRefusal, message: string) =>
      outcomes.push({ runId: Number(req.runId) || 0, accepted: false, code, message });
    const taking: Taking[] = [];
    const { capacity } = this.config.executor;
    const notReady = this.ledger.notReadyReason();
    for (const req of reqs) {
      const problems = runRequestProblems(req);
      if (problems.length > 0) {
        refuse(req, 'INVALID', problems.join('; '));
        continue;
      }
      if (this.active.has(req.runId)) {
        outcomes.push({ runId: req.runId, accepted: true, code: '', message: '' });
        continue;
      }
      if (notReady) {
        refuse(req, 'LEDGER_DOWN', notReady);
        continue;
      }
      if (this.presence.draining) {
        refuse(req, 'DRAINING', `executor ${this.executorId} is draining`);
        continue;
      }
      if (this.active.size >= capacity) {
        refuse(req, 'AT_CAPACITY', `executor ${this.executorId} runs ${this.active.size} of ${capacity}`);
        continue;
      }
      // Reserve the slot before the first await, so concurrent sends can not exceed capacity.
      const slot = this.active.reserve(req.runId, req.jobId);
      const outcome: RunOutcome = { runId: req.runId, accepted: false, code: 'NOT_PENDING', message: '' };
      outcomes.push(outcome);
      taking.push({ run: ledgerKeyOf(req), jobVersion: req.jobVersion, slot, outcome });
    }
    if (taking.length === 0) return outcomes;
    const settle = (t: Taking, code: RunRefusal, message: string) => {
      this.active.release(t.run.id);
      Object.assign(t.outcome, { code, message });
    };

    let jobs: Map<number, JobEntity>;
    try {
      jobs = await this.jobs.jobsFor(offeredVersions(taking));
    } catch (e) {
      for (const t of taking) settle(t, 'LEDGER_DOWN', `cannot read job ${t.run.jobId}: ${(e as Error).message}`);
      return outcomes;
    }
    let claiming: (Taking & Launch)[] = [];
    for (const t of taking) {
      const job = jobs.get(t.run.jobId);
      if (!job) {
        settle(t, 'JOB_GONE', `job ${t.run.jobId} does not exist`);
        continue;
      }
      // Before the compare-and-set: a run of another group stays pending, for the executors of its group.
      if (job.group !== this.config.executor.group) {
        settle(
          t,
          'WRONG_GROUP',
          `job ${job.id} is not of group '${this.config.executor.group}', the group of executor ${this.executorId}`,
        );
        continue;
      }
      const built = jobTaskOf(job);
      if ('problem' in built) {
        settle(t, 'INVALID', `job ${job.id} can not be run: ${built.problem}`);
        continue;
      }
      const secrets = this.secrets.open(job);
      if ('problem' in secrets) {
        settle(t, 'INVALID', `job ${job.id} can not be run: ${secrets.problem}`);
        continue;
      }
      claiming.push({ ...t, job, task: built.task, secrets });
    }
    if (claiming.some((c) => isDependencyRun(c.run))) claiming = await this.withParents(claiming, settle);
    if (claiming.length === 0) return outcomes;

    let starts: RunStarts;
    try {
      // The ledger's CAS pending → running is the fence: of two executors offered the same run, one starts it; a run
      // offered under a key that is not its own is not moved.
      starts = await this.batch.markRunningMany(
        claiming.map((c) => c.run),
        this.executorId,
        this.config.executor.advertise,
      );
    } catch (e) {
      for (const c of claiming) {
        settle(c, 'LEDGER_DOWN', `cannot record the start of run ${c.run.id}: ${(e as Error).message}`);
      }
      return outcomes;
    }
    const launching: Launch[] = [];
    for (const c of claiming) {
      const { id, jobId, attempt, tickKey } = c.run;
      if (starts.mismatched.has(id)) {
        settle(c, 'MISMATCH', `run ${id} is not job ${jobId}'s attempt ${attempt} of tick '${tickKey}' in the ledger`);
      } else if (!starts.started.has(id)) {
        settle(c, 'NOT_PENDING', `run ${id} is not pending (taken or finished elsewhere)`);
      } else {
        Object.assign(c.outcome, { accepted: true, code: '', message: '' });
        launching.push(c);
      }
    }
    // The answer goes out first, then the tasks start: starting a thousand requests or processes takes a while, and
    // the dispatcher should not wait for it (the starts are recorded, the slots reserved).
    if (launching.length > 0) setImmediate(() => this.launcher.launchPaced(launching));
    return outcomes;
  }

  /**
   * Gives each dependency run of `claiming` its parents' context, read before its start is recorded: a dependency run
   * without it would run wrong, so when the ledger can not answer it is refused as when its job can not be read
   * (LEDGER_DOWN: it stays pending and is offered again), while the batch's other runs go on.
   */
  private async withParents(
    claiming: (Taking & Launch)[],
    settle: (t: Taking, code: RunRefusal, message: string) => void,
  ): Promise<(Taking & Launch)[]> {
    try {
      const contexts = await this.parents.of(claiming.map((c) => c.run));
      for (const c of claiming) c.parents = contexts.get(c.run.id);
      return claiming;
    } catch (e) {
      return claiming.filter((c) => {
        if (!isDependencyRun(c.run)) return true;
        settle(c, 'LEDGER_DOWN', `cannot read the parent runs of run ${c.run.id}: ${(e as Error).message}`);
        return false;
      });
    }
  }

  /**
   * Stops a run this executor has, as `cancelled` whatever the caller's reason says: only the executor itself
   * decides that a run is lost.
   */
  cancel(runId: number, reason: string): { cancelled: boolean } {
    const slot = this.active.get(runId);
    if (!slot) throw new TaskError('NOT_FOUND', `run ${runId} is not running on executor ${this.executorId}`);
    // The reason is the caller's text: recorded as the run's error, bounded, and never read for meaning.
    this.active.stop(slot, { kind: 'cancelled', message: reason.slice(0, CANCEL_REASON_MAX) });
    return { cancelled: true };
  }

  /**
   * Streams a running run's output to `sink` from the request's offset on (output-follower.ts), as one of at most
   * MAX_FOLLOWERS followers of the run. A run that ended stays readable for a short grace after its result is recorded
   * (finished-outputs.ts), so that a follower calling again after the per-call cap gets the rest. A run this executor
   * does not hold (never had, or ended longer ago) is NOT_FOUND: its output is then the ledger's.
   */
  async followOutput(req: FollowOutputRequest, sink: ChunkSink): Promise<void> {
    const problems = followRequestProblems(req);
    if (problems.length > 0) throw new TaskError('INVALID', problems.join('; '));
    const live = this.active.liveOutput(req.runId);
    if (!live) throw new TaskError('NOT_FOUND', `run ${req.runId} is not running on executor ${this.executorId}`);
    const release = live.follow(req.offset);
    if (!release) {
      throw new TaskError(
        'TOO_MANY_FOLLOWERS',
        `run ${req.runId} has ${MAX_FOLLOWERS} followers already (at most ${MAX_FOLLOWERS} at a time)`,
      );
    }
    let reconnectAt: number | null = null;
    try {
      reconnectAt = await followOutput(live, req.offset, sink);
    } finally {
      // Told to call again (the per-call cap): its place is kept for it a moment, so no one waiting takes it.
      release(reconnectAt === null ? undefined : { offset: reconnectAt, ms: RECONNECT_KEEP_MS });
    }
  }
}
