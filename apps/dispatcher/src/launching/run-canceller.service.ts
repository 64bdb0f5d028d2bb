import { Injectable, Logger } from '@nestjs/common';
import { RunEntity, RunsRepository } from '@app/persistence';
import { ExecutorPool } from '../executor-client/executor-pool.service';
import { EventsService } from '../events/events.service';

/** The part of a run that stopping it needs. */
export type RunToCancel = Pick<RunEntity, 'id' | 'status' | 'executorAddress'>;

/** Stops runs: a pending one is cancelled in the ledger, a running one on its executor. */
@Injectable()
export class RunCanceller {
  private readonly logger = new Logger(RunCanceller.name);

  constructor(
    private readonly runs: RunsRepository,
    private readonly pool: ExecutorPool,
    private readonly events: EventsService,
  ) {}

  async cancel(run: RunToCancel, reason: string): Promise<void> {
    if (run.status === 'pending') {
      await this.runs.finish(run.id, { status: 'cancelled', finishedAt: Date.now(), error: reason }, ['pending']);
    } else if (run.status === 'running' && run.executorAddress) {
      try {
        await this.pool.cancel(run.executorAddress, run.id, reason);
        return;
      } catch (e) {
        // The executor is unreachable or no longer has it: record the cancel; if it still runs the task, its ledger
        // watch stops it, and its late result can not overwrite this final status.
        this.logger.warn({ msg: `cancel via executor failed (${(e as Error).message}); recording it`, runId: run.id });
        await this.runs.finish(run.id, { status: 'cancelled', finishedAt: Date.now(), error: reason }, ['running']);
      }
    }
    this.events.runChanged(run.id);
  }
}
