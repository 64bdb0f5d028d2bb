/** One stored edge of the dependency graph: `childId` names `parentId` in its `dependsOn`. */
export interface StoredEdge {
  parentId: number;
  childId: number;
}

/** Why a job may not take these parents. */
export type GraphProblem =
  /** The job would reach itself: the ids along the cycle, first and last the same (parent → child order). */
  | { kind: 'cycle'; path: number[] }
  /** The longest chain of jobs through the job would be `depth` jobs long, more than the limit. */
  | { kind: 'too_deep'; depth: number };

/** The stored graph, indexed both ways. */
export class DependencyGraph {
  private readonly parents = new Map<number, number[]>();
  private readonly children = new Map<number, number[]>();

  constructor(edges: Iterable<StoredEdge>) {
    for (const e of edges) {
      push(this.parents, e.childId, e.parentId);
      push(this.children, e.parentId, e.childId);
    }
  }

  parentsOf(id: number): readonly number[] {
    return this.parents.get(id) ?? [];
  }

  childrenOf(id: number): readonly number[] {
    return this.children.get(id) ?? [];
  }

  /**
   * What is wrong with giving `jobId` (null: a job not created yet, which has no children) the parents
   * `parents` instead of its stored ones, or null. A cycle through the new edges exists exactly when the job reaches
   * one of its new parents through the stored edges (a simple path from the job never comes back into it, so its
   * stored parents do not matter); the cycle named is the shortest one. Depth: the longest chain through the job is
   * its longest chain of ancestors (through the new parents) plus its longest chain of descendants. O(V + E).
   */
  check(jobId: number | null, parents: readonly number[], maxDepth: number): GraphProblem | null {
    if (parents.length === 0) return null;
    if (jobId !== null) {
      const path = this.pathDown(jobId, new Set(parents));
      if (path) return { kind: 'cycle', path: [path[path.length - 1], ...path] };
    }
    // One memo for every parent: their ancestries overlap, and walking each anew made 100 parents cost 100 walks.
    const upMemo = new Map<number, number>();
    let up = 0;
    for (const p of parents) up = Math.max(up, this.longest(p, (id) => this.parentsOf(id), upMemo));
    const down = jobId === null ? 1 : this.longest(jobId, (id) => this.childrenOf(id), new Map());
    const depth = up + down;
    return depth > maxDepth ? { kind: 'too_deep', depth } : null;
  }

  /** The shortest path from `from` down to one of `targets` (both ends included), or null: breadth first. */
  private pathDown(from: number, targets: Set<number>): number[] | null {
    if (targets.has(from)) return [from];
    const before = new Map<number, number>([[from, from]]);
    let frontier = [from];
    while (frontier.length > 0) {
      const next: number[] = [];
      for (const id of frontier) {
        for (const child of this.childrenOf(id)) {
          if (before.has(child)) continue;
          before.set(child, id);
          if (targets.has(child)) {
            const path = [child];
            for (let at = id; at !== from; at = before.get(at)!) path.push(at);
            path.push(from);
            return path.reverse();
          }
          next.push(child);
        }
      }
      frontier = next;
    }
    return null;
  }

  /**
   * The number of jobs on the longest chain from `start` following `next` (start included), memoised, iterative (a
   * chain of a thousand jobs would not overflow a recursion anyway, but a damaged graph might be deeper). A node met
   * again while its own chain is being measured (a stored cycle, which the checks never let in) counts as 1.
   */
  private longest(start: number, next: (id: number) => readonly number[], memo: Map<number, number>): number {
    const known = memo.get(start);
    if (known !== undefined) return known;
    const open = new Set<number>();
    const stack: { id: number; i: number; best: number }[] = [{ id: start, i: 0, best: 0 }];
    open.add(start);
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const around = next(top.id);
      if (top.i < around.length) {
        const n = around[top.i++];
        const known = memo.get(n);
        if (known !== undefined) top.best = Math.max(top.best, known);
        else if (open.has(n)) top.best = Math.max(top.best, 1);
        else {
          open.add(n);
          stack.push({ id: n, i: 0, best: 0 });
        }
        continue;
      }
      stack.pop();
      open.delete(top.id);
      const length = top.best + 1;
      memo.set(top.id, length);
      if (stack.length > 0) {
        const parent = stack[stack.length - 1];
        parent.best = Math.max(parent.best, length);
      }
    }
    return memo.get(start) ?? 1;
  }
}

function push(map: Map<number, number[]>, key: number, value: number): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
