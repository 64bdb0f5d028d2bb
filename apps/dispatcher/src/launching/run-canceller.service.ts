import { Injectable, Logger, Optional } from '@nestjs/common';
import { isFinal, RunEntity, RunsRepository, RunStatus } from '@app/persistence';
import { ExecutorPool } from '../executor-client/executor-pool.service';
import { EventsService } from '../events/events.service';
import { BrokerRuns } from '../broker/broker-runs.service';

/** The part of a run that stopping it needs (its executor's id: for an executor of a broker group). */
export type RunToCancel = Pick<RunEntity, 'id' | 'status' | 'executorAddress'> & Partial<Pick<RunEntity, 'executorId'>>;

/**
 * What became of a cancel: recorded in the ledger (`cancelled`), being stopped by the executor that runs it (which
 * records `cancelled` itself, with the task's output), or not needed, the run having ended first (`ended`, with the
 * status it ended with).
 */
export type CancelOutcome =
  { kind: 'cancelled' } | { kind: 'stopping'; executorAddress: string } | { kind: 'ended'; status: RunStatus };

/** pending → running → final: a run can move at most twice under a cancel, and each move is one more look. */
const MAX_LOOKS = 4;

/**
 * Stops runs: a pending one is cancelled in the ledger, a running one on its executor (in the ledger when that
 * executor can not be reached or no longer has it). The state a caller read can be stale by the time the cancel
 * lands (the run just started, or just ended): every compare-and-set that misses is followed by a fresh read, and
 * the cancel is tried again for the state found, until the run is stopped or ended.
 */
@Injectable()
export class RunCanceller {
  private readonly logger = new Logger(RunCanceller.name);

  constructor(
    private readonly runs: RunsRepository,
    private readonly pool: ExecutorPool,
    private readonly events: EventsService,
    @Optional() private readonly broker?: BrokerRuns,
  ) {}

  async cancel(run: RunToCancel, reason: string): Promise<CancelOutcome> {
    let seen: RunToCancel | null = run;
    for (let look = 1; seen && look <= MAX_LOOKS; look++) {
      const outcome = await this.cancelAs(seen, reason);
      if (outcome) {
        if (outcome.kind === 'cancelled') this.events.runChanged(run.id);
        return outcome;
      }
      seen = await this.runs.findById(run.id);
    }
    // Gone from the ledger, or still moving after every look (it can not: statuses only move forward).
    return { kind: 'ended', status: seen?.status ?? 'cancelled' };
  }

  /** One attempt for the state read; null when the run had moved on since (look again). */
  private async cancelAs(run: RunToCancel, reason: string): Promise<CancelOutcome | null> {
    if (isFinal(run.status)) return { kind: 'ended', status: run.status };
    const record = async (from: RunStatus) =>
      (await this.runs.finish(run.id, { status: 'cancelled', finishedAt: Date.now(), error: reason }, [from]))
        ? ({ kind: 'cancelled' } as const)
        : null;
    if (run.status === 'pending') return record('pending');
    if (run.executorAddress) {
      try {
        // The executor's gRPC server first, broker group or not: it answers whether it had the run.
        await this.pool.cancel(run.executorAddress, run.id, reason);
        return { kind: 'stopping', executorAddress: run.executorAddress };
      } catch (e) {
        // Unreachable, or it no longer has the run: record the cancel; if it still runs the task, its ledger watch
        // stops it (within 1 s), and its late result can not overwrite this final status.
        this.logger.warn({ msg: `cancel via executor failed (${(e as Error).message}); recording it`, runId: run.id });
      }
      const viaBroker = this.brokerExecutor(run);
      if (viaBroker) {
        // An executor of a broker group its gRPC can not reach: its control queue too (a cancel waits there at most
        // CANCEL_TTL_MS), best effort; the ledger's `cancelled` below is what stops the run for sure.
        await this.broker!.cancel(viaBroker, run.id, reason).catch(() => false);
      }
    }
    return record('running');
  }

  /**
   * The id of the run's executor when it is in discovery and of a broker group, else null (gRPC, and the ledger when
   * the executor can not be reached).
   */
  private brokerExecutor(run: RunToCancel): string | null {
    if (!this.broker?.enabled || !run.executorId) return null;
    const executor = this.pool.executors().find((e) => e.id === run.executorId);
    if (!executor) return null;
    return this.broker.isBrokerGroup(executor.group) ? executor.id : null;
  }
}
