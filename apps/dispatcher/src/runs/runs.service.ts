import { Injectable } from '@nestjs/common';
import { ApiReads, RunFilter, RunsRepository } from '@app/persistence';
import { DomainError } from '../common/domain-error';
import { RunCanceller } from '../launching/run-canceller.service';
import { RunPage, RunResponse } from './dto/run.response';

@Injectable()
export class RunsService {
  constructor(
    private readonly runs: RunsRepository,
    private readonly reads: ApiReads,
    private readonly canceller: RunCanceller,
  ) {}

  async list(f: RunFilter): Promise<RunPage> {
    const { items, total, totalCapped } = await this.reads.listRuns(f);
    return { items: items.map((r) => RunResponse.of(r)), total, totalCapped };
  }

  async get(id: number): Promise<RunResponse> {
    const run = await this.reads.findRun(id);
    if (!run) throw DomainError.notFound(`run ${id}`);
    return RunResponse.of(run);
  }

  /**
   * Stops a pending or running run, in whichever of the two it is by the time the cancel lands; a run that has
   * already ended (before the read, or between the read and the cancel) is a 409.
   */
  async cancel(id: number): Promise<void> {
    const run = await this.runs.findById(id);
    if (!run) throw DomainError.notFound(`run ${id}`);
    const outcome = await this.canceller.cancel(run, 'cancelled by request');
    if (outcome.kind === 'ended') throw new DomainError('CONFLICT', `run ${id} has already ended (${outcome.status})`);
  }
}
