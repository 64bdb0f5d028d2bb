import { Injectable } from '@nestjs/common';
import { PARENT_OUTPUT_TAIL_BYTES } from '@app/contract';
import { LedgerKey, ParentRunsRepository, RunLinksRepository, tickRef } from '@app/persistence';
import { parentOutputTail } from './runners/parent-env';
import type { ParentContext, ParentRun } from './runners/task-runner';

/**
 * The tick keys of dependency runs (and of their retries, which keep the key): `dep:{parentJobId}:{parentTickKey}`
 * with `any`, `dep:all:{instant}` with `all`. No other trigger makes a key of this prefix (manual runs are
 * `manual:…`, scheduled ones digits).
 */
export const DEPENDENCY_TICK_PREFIX = 'dep:';

export function isDependencyRun(run: Pick<LedgerKey, 'tickKey'>): boolean {
  return run.tickKey.startsWith(DEPENDENCY_TICK_PREFIX);
}

/**
 * What the dependency runs of a batch are told of their parent runs: the run's parents are the `run_links` of its
 * (job, tick key), as the dispatcher wrote them before it claimed the run. Two queries for a whole batch (the links,
 * then the parents' rows with only the columns needed and the output's tail), whatever the number of dependency runs
 * in it; callers ask only when the batch has one, so other runs cost nothing.
 */
@Injectable()
export class ParentContexts {
  constructor(
    private readonly links: RunLinksRepository,
    private readonly parentRuns: ParentRunsRepository,
  ) {}

  /**
   * A context for each dependency run of `runs` (by run id), a run with no links left included (pruned: it is told
   * `GOCRON_PARENT_RUN_IDS=` rather than nothing, so a task can still tell it is a dependency run). Rejects when
   * the ledger can not be read.
   */
  async of(runs: readonly LedgerKey[]): Promise<Map<number, ParentContext>> {
    const out = new Map<number, ParentContext>();
    const dependent = runs.filter(isDependencyRun);
    if (dependent.length === 0) return out;
    const idsOf = await this.links.parentRunIdsOf(dependent.map((r) => ({ jobId: r.jobId, tickKey: r.tickKey })));
    const wanted = new Set<number>();
    for (const ids of idsOf.values()) for (const id of ids) wanted.add(id);
    const rows = wanted.size > 0 ? await this.parentRuns.tailsOf([...wanted], PARENT_OUTPUT_TAIL_BYTES) : [];
    // One object per parent run, shared by every child of a fan-out in the batch.
    const byId = new Map<number, ParentRun>(
      rows.map((r) => [
        r.id,
        {
          id: r.id,
          jobId: r.jobId,
          exitCode: r.exitCode,
          httpStatus: r.httpStatus,
          outputTail: parentOutputTail(r.outputTail),
        },
      ]),
    );
    for (const run of dependent) {
      const runIds = idsOf.get(tickRef(run.jobId, run.tickKey)) ?? [];
      const parents = runIds.map((id) => byId.get(id)).filter((p): p is ParentRun => p !== undefined);
      out.set(run.id, { runIds, runs: parents });
    }
    return out;
  }
}
