import { Injectable } from '@nestjs/common';
import type { RunDetailJson } from '@app/contract';
import { ApiReads, RunFilter, RunLinksRepository, RunsRepository, tickRef } from '@app/persistence';
import { DomainError } from '../common/domain-error';
import { RunCanceller } from '../launching/run-canceller.service';
import { RunDetailResponse, RunLinkResponse, RunPage, RunResponse } from './dto/run.response';

@Injectable()
export class RunsService {
  constructor(
    private readonly runs: RunsRepository,
    private readonly reads: ApiReads,
    private readonly canceller: RunCanceller,
    private readonly links: RunLinksRepository,
  ) {}

  async list(f: RunFilter): Promise<RunPage> {
    const { items, total, totalCapped } = await this.reads.listRuns(f);
    // One read for the page's parent runs (only dependency runs have any).
    const parents = await this.links.parentRunIdsOf(items);
    return {
      items: items.map((r) => RunResponse.of(r, parents.get(tickRef(r.jobId, r.tickKey)))),
      total,
      totalCapped,
    };
  }

  /** The run, its parent runs (upstream) and the runs its finish started (downstream). */
  async get(id: number): Promise<RunDetailResponse> {
    const run = await this.reads.findRun(id);
    if (!run) throw DomainError.notFound(`run ${id}`);
    const parentRunIds = (await this.links.parentRunIdsOf([run])).get(tickRef(run.jobId, run.tickKey)) ?? [];
    const upstream = await this.reads.runRefs(parentRunIds);
    const downstream = await this.reads.latestRunsOf(await this.links.childrenOf(id));
    const names = await this.reads.jobNames([...new Set([...upstream, ...downstream].map((r) => r.jobId))]);
    const detail: RunDetailJson = {
      ...RunResponse.of(run, parentRunIds),
      upstream: upstream.sort((a, b) => a.id - b.id).map((r) => RunLinkResponse.of(r, names.get(r.jobId) ?? null)),
      downstream: downstream.map((r) => RunLinkResponse.of(r, names.get(r.jobId) ?? null)),
    };
    return detail;
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
