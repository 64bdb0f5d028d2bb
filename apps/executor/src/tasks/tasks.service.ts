import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@app/config';
import { RunBatchRepository } from '@app/persistence';
import type { HealthReply, RunOutcome, RunRefusal, RunReply, RunRequest } from '@app/protocol';
import { ActiveRun, ActiveRuns } from './active-runs';
import { LedgerWatch } from './ledger-watch.service';
import { Presence } from './presence.service';
import { runRequestProblems } from './run-request.validator';
import { TaskError } from './task-errors';
import { TaskLauncher } from './task-launcher';

/**
 * What the gRPC service does: admits runs up to `capacity` (one ledger compare-and-set for a whole RunBatch, the
 * fence between executors offered the same run), stops them on request, and reports load. Launching is
 * TaskLauncher's, discovery and draining Presence's, the ledger watch LedgerWatch's.
 */
@Injectable()
export class TasksService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly batch: RunBatchRepository,
    private readonly active: ActiveRuns,
    private readonly launcher: TaskLauncher,
    private readonly presence: Presence,
    private readonly ledger: LedgerWatch,
  ) {}

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
   * Starts what it can of `reqs`, up to capacity, with one ledger compare-and-set for all of them; every run is
   * answered on its own. A run already running here is accepted again (idempotent by run id).
   */
  async startMany(reqs: RunRequest[]): Promise<RunOutcome[]> {
    const outcomes: RunOutcome[] = [];
    const refuse = (req: RunRequest, code: RunRefusal, message: string) =>
      outcomes.push({ runId: Number(req.runId) || 0, accepted: false, code, message });
    const taking: { req: RunRequest; slot: ActiveRun; outcome: RunOutcome }[] = [];
    const seen = new Set<number>();
    const { capacity } = this.config.executor;
    const notReady = this.ledger.notReadyReason();
    for (const req of reqs) {
      const problems = runRequestProblems(req);
      if (problems.length > 0) {
        refuse(req, 'INVALID', problems.join('; '));
        continue;
      }
      if (seen.has(req.runId)) {
        refuse(req, 'INVALID', `run_id: ${req.runId} appears twice in the batch`);
        continue;
      }
      seen.add(req.runId);
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
      taking.push({ req, slot, outcome });
    }
    if (taking.length === 0) return outcomes;
    let took: Set<number>;
    try {
      // The ledger's CAS pending → running is the fence: of two executors offered the same run, one starts it.
      took = await this.batch.markRunningMany(
        taking.map((t) => t.req.runId),
        this.executorId,
        this.config.executor.advertise,
      );
    } catch (e) {
      for (const t of taking) {
        this.active.release(t.req.runId);
        Object.assign(t.outcome, {
          code: 'LEDGER_DOWN',
          message: `cannot record the start of run ${t.req.runId}: ${(e as Error).message}`,
        });
      }
      return outcomes;
    }
    const launching: typeof taking = [];
    for (const t of taking) {
      if (!took.has(t.req.runId)) {
        this.active.release(t.req.runId);
        t.outcome.message = `run ${t.req.runId} is not pending (taken or finished elsewhere)`;
        continue;
      }
      Object.assign(t.outcome, { accepted: true, code: '', message: '' });
      launching.push(t);
    }
    // The answer goes out first, then the tasks start: starting a thousand requests or processes takes a while, and
    // the dispatcher should not wait for it (the starts are recorded, the slots reserved).
    if (launching.length > 0) setImmediate(() => this.launcher.launchPaced(launching));
    return outcomes;
  }

  /**
   * Stops a run this executor has, as `cancelled` whatever the caller's reason says: only the executor itself
   * decides that a run is lost.
   */
  cancel(runId: number, reason: string): { cancelled: boolean } {
    const slot = this.active.get(runId);
    if (!slot) throw new TaskError('NOT_FOUND', `run ${runId} is not running on executor ${this.executorId}`);
    this.active.stop(slot, { kind: 'cancelled', message: reason });
    return { cancelled: true };
  }
}
