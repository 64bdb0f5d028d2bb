import type { ApiReads, GraphEdge, GraphNode } from '@app/persistence';
import { graphAround, hasChildrenError, refusalError } from './job-graph';

/** The graph reads over edges in memory, counting the queries. */
function readsOf(pairs: [number, number][]) {
  const edges: GraphEdge[] = pairs.map(([parentId, childId]) => ({ parentId, childId, on: 'success' }));
  const calls = { edges: 0, nodes: 0 };
  const reads: Pick<ApiReads, 'edgesOf' | 'graphNodes'> = {
    edgesOf: (ids: number[], side: 'parent' | 'child') => {
      calls.edges++;
      const wanted = new Set(ids);
      return Promise.resolve(edges.filter((e) => wanted.has(side === 'parent' ? e.parentId : e.childId)));
    },
    graphNodes: (ids: number[]) => {
      calls.nodes++;
      return Promise.resolve(
        ids.map((id): GraphNode => ({ id, name: `j${id}`, enabled: true, cron: '', dependencyMode: 'all' })),
      );
    },
  };
  return { reads, calls };
}

describe('graphAround', () => {
  it('gives ancestors negative and descendants positive levels (the shortest distance), with the edges among them', async () => {
    // 1 → 2 → 3 → 4, 1 → 3 (a shortcut), 5 → 3, 3 → 6, and 7 → 8 elsewhere.
    const { reads } = readsOf([
      [1, 2],
      [2, 3],
      [3, 4],
      [1, 3],
      [5, 3],
      [3, 6],
      [7, 8],
    ]);
    const g = await graphAround(3, reads);
    expect(g.jobId).toBe(3);
    expect(g.truncated).toBe(false);
    expect(g.nodes.map((n) => [n.id, n.level])).toEqual([
      [1, -1],
      [2, -1],
      [5, -1],
      [3, 0],
      [4, 1],
      [6, 1],
    ]);
    expect(g.edges.map((e) => [e.parentId, e.childId])).toEqual([
      [1, 2],
      [1, 3],
      [2, 3],
      [3, 4],
      [3, 6],
      [5, 3],
    ]);
  });

  it('includes an edge between an ancestor and a descendant (a fan around the job)', async () => {
    const { reads } = readsOf([
      [1, 2],
      [2, 3],
      [1, 3],
    ]);
    const g = await graphAround(2, reads);
    expect(g.edges.map((e) => [e.parentId, e.childId])).toEqual([
      [1, 2],
      [1, 3],
      [2, 3],
    ]);
  });

  it('cuts at maxNodes, keeping the levels nearest the job on both sides, and says so', async () => {
    // A chain 1 → … → 101 around job 51.
    const chain = Array.from({ length: 100 }, (_, i): [number, number] => [i + 1, i + 2]);
    const { reads, calls } = readsOf(chain);
    const g = await graphAround(51, reads, 11);
    expect(g.truncated).toBe(true);
    expect(g.nodes).toHaveLength(11);
    expect(Math.min(...g.nodes.map((n) => n.level))).toBe(-5);
    expect(Math.max(...g.nodes.map((n) => n.level))).toBe(5);
    // Its cost is what it shows: a query per level and side, and one for nodes and edges.
    expect(calls.edges).toBeLessThanOrEqual(2 * 6 + 1);
    const whole = await graphAround(51, readsOf(chain).reads, 101);
    expect(whole.truncated).toBe(false);
    expect(whole.nodes).toHaveLength(101);
  });

  it('is the job alone when it has neither parents nor children', async () => {
    const g = await graphAround(9, readsOf([[1, 2]]).reads);
    expect(g).toEqual({
      jobId: 9,
      nodes: [{ id: 9, name: 'j9', enabled: true, cron: '', dependencyMode: 'all', level: 0 }],
      edges: [],
      truncated: false,
    });
  });
});

describe('the messages of refused graph edits', () => {
  it('names the cycle in parent → child order', () => {
    const e = refusalError(
      {
        kind: 'cycle',
        path: [
          { id: 3, name: 'c' },
          { id: 1, name: 'a' },
          { id: 2, name: 'b' },
          { id: 3, name: 'c' },
        ],
      },
      1000,
    );
    expect(e.code).toBe('INVALID');
    expect(e.message).toBe('dependsOn: cycle job 3 (c) → job 1 (a) → job 2 (b) → job 3 (c)');
  });

  it('shortens a long cycle to its ends and a count', () => {
    const path = Array.from({ length: 50 }, (_, i) => ({ id: i + 1, name: `n${i + 1}` }));
    const message = refusalError({ kind: 'cycle', path }, 1000).message;
    expect(message).toContain('job 1 (n1) → ');
    expect(message).toContain('… 30 more … → ');
    expect(message).toContain('job 50 (n50)');
    expect(message.length).toBeLessThan(600);
  });

  it('names missing parents, the depth, and the children of a job being deleted', () => {
    expect(refusalError({ kind: 'missing_parents', ids: [7, 9] }, 1000).message).toBe(
      'dependsOn: no job 7, 9 (a parent must exist)',
    );
    expect(refusalError({ kind: 'too_deep', depth: 1001 }, 1000).message).toBe(
      'dependsOn: the longest chain of jobs through this one would be 1001 jobs, at most 1000',
    );
    const conflict = hasChildrenError(4, [
      { id: 5, name: 'e' },
      { id: 6, name: 'f' },
    ]);
    expect(conflict.code).toBe('CONFLICT');
    expect(conflict.message).toMatch(/^job 4 is a parent of job 5 \(e\), job 6 \(f\): .*\?force=true/);
  });
});
