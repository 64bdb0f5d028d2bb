import type { JobGraphJson } from '@app/contract';
import type { ApiReads, GraphRefusal } from '@app/persistence';
import { DomainError } from '../common/domain-error';

/** The graph answer shows at most this many jobs; beyond, `truncated`. */
export const MAX_GRAPH_NODES = 2000;
/** Jobs a message names at most (a cycle, the children of a job being deleted); the rest are counted. */
const NAMED_AT_MOST = 20;

const named = (j: { id: number; name: string | null }) => (j.name === null ? `job ${j.id}` : `job ${j.id} (${j.name})`);

/** A list of jobs for a message: all of them up to NAMED_AT_MOST, else its first and last ones and the count. */
function listOf(jobs: { id: number; name: string | null }[], separator: string): string {
  if (jobs.length <= NAMED_AT_MOST) return jobs.map(named).join(separator);
  const half = NAMED_AT_MOST / 2;
  return [
    ...jobs.slice(0, half).map(named),
    `… ${jobs.length - NAMED_AT_MOST} more …`,
    ...jobs.slice(-half).map(named),
  ].join(separator);
}

/** The 400 for a refused graph edit, naming what is wrong (the cycle in parent → child order). */
export function refusalError(refusal: GraphRefusal, maxDepth: number): DomainError {
  switch (refusal.kind) {
    case 'missing_parents':
      return new DomainError('INVALID', `dependsOn: no job ${refusal.ids.join(', ')} (a parent must exist)`);
    case 'cycle':
      return new DomainError('INVALID', `dependsOn: cycle ${listOf(refusal.path, ' → ')}`);
    case 'too_deep':
      return new DomainError(
        'INVALID',
        `dependsOn: the longest chain of jobs through this one would be ${refusal.depth} jobs, at most ${maxDepth}`,
      );
  }
}

/** The 409 for deleting a job that other jobs depend on. */
export function hasChildrenError(id: number, children: { id: number; name: string }[]): DomainError {
  return new DomainError(
    'CONFLICT',
    `job ${id} is a parent of ${listOf(children, ', ')}: change their dependsOn first, or delete with ?force=true ` +
      '(which removes it from theirs and pauses those left with no parent and no cron)',
  );
}

/**
 * The job's ancestors and descendants, breadth first from the job, one level up and one down a round (so a cut at
 * `maxNodes` keeps both sides near the job), each at its shortest distance; then every edge among the jobs shown.
 * Its cost is the graph shown: a query per level and side, a few for the nodes and edges.
 */
export async function graphAround(
  jobId: number,
  reads: Pick<ApiReads, 'edgesOf' | 'graphNodes'>,
  maxNodes = MAX_GRAPH_NODES,
): Promise<JobGraphJson> {
  const level = new Map<number, number>([[jobId, 0]]);
  let truncated = false;
  const take = (ids: number[], at: number): number[] => {
    const added: number[] = [];
    for (const id of ids) {
      if (level.has(id)) continue;
      if (level.size >= maxNodes) {
        truncated = true;
        break;
      }
      level.set(id, at);
      added.push(id);
    }
    return added;
  };
  let up = [jobId];
  let down = [jobId];
  for (let distance = 1; (up.length > 0 || down.length > 0) && !truncated; distance++) {
    if (up.length > 0)
      up = take(
        (await reads.edgesOf(up, 'child')).map((e) => e.parentId),
        -distance,
      );
    if (down.length > 0 && !truncated) {
      down = take(
        (await reads.edgesOf(down, 'parent')).map((e) => e.childId),
        distance,
      );
    }
  }
  const ids = [...level.keys()];
  const nodes = (await reads.graphNodes(ids))
    .map((n) => ({ ...n, level: level.get(n.id)! }))
    .sort((a, b) => a.level - b.level || a.id - b.id);
  const shown = new Set(nodes.map((n) => n.id));
  const edges = (await reads.edgesOf(ids, 'child'))
    .filter((e) => shown.has(e.parentId) && shown.has(e.childId))
    .sort((a, b) => a.parentId - b.parentId || a.childId - b.childId);
  return { jobId, nodes, edges, truncated };
}
