import { StoredEdge, DependencyGraph } from './dependency-graph';

/** Edges from `a→b` pairs (a is the parent). */
const edges = (...pairs: [number, number][]): StoredEdge[] =>
  pairs.map(([parentId, childId]) => ({ parentId, childId }));

/** A chain 1 → 2 → … → n. */
const chain = (n: number): StoredEdge[] =>
  Array.from({ length: n - 1 }, (_, i) => ({ parentId: i + 1, childId: i + 2 }));

describe('DependencyGraph.check', () => {
  it('accepts parents that make no cycle, and a job with none', () => {
    const g = new DependencyGraph(edges([1, 2], [2, 3]));
    expect(g.check(4, [3], 1000)).toBeNull();
    expect(g.check(3, [1, 2], 1000)).toBeNull(); // a diamond is no cycle
    expect(g.check(1, [], 1000)).toBeNull();
    expect(g.check(null, [1, 2, 3], 1000)).toBeNull();
  });

  it('names the cycle a new parent closes, from that parent, in parent → child order', () => {
    // b(2) depends on a(1), c(3) on b: a depending on c closes 3 → 1 → 2 → 3.
    const g = new DependencyGraph(edges([1, 2], [2, 3]));
    expect(g.check(1, [3], 1000)).toEqual({ kind: 'cycle', path: [3, 1, 2, 3] });
    // Two jobs naming each other.
    expect(new DependencyGraph(edges([2, 1])).check(2, [1], 1000)).toEqual({ kind: 'cycle', path: [1, 2, 1] });
  });

  it('names the shortest cycle when several parents close one', () => {
    // 1 → 2 → 3 → 4 and 1 → 4: job 1 taking parents 4 and 2 closes 2 → 1 → 2 (shortest).
    const g = new DependencyGraph(edges([1, 2], [2, 3], [3, 4], [1, 4]));
    expect(g.check(1, [4, 2], 1000)).toEqual({ kind: 'cycle', path: [2, 1, 2] });
  });

  it("ignores the job's own stored parents: they are being replaced", () => {
    // 2 depends on 1 today: naming 1 again, or 3 instead, is no cycle; 1 naming 2 is one (2 still depends on 1).
    const g = new DependencyGraph(edges([1, 2]));
    expect(g.check(2, [1], 1000)).toBeNull();
    expect(g.check(2, [3], 1000)).toBeNull();
    expect(g.check(1, [2], 1000)).toEqual({ kind: 'cycle', path: [2, 1, 2] });
  });

  it('counts the longest chain through the job, ancestors and descendants, against the limit', () => {
    const g = new DependencyGraph(chain(1000)); // 1000 jobs: at the limit
    expect(g.check(1000, [999], 1000)).toBeNull();
    expect(g.check(1001, [1000], 1000)).toEqual({ kind: 'too_deep', depth: 1001 });
    expect(g.check(null, [1000], 1000)).toEqual({ kind: 'too_deep', depth: 1001 });
    // A job in the middle taking a parent from a long branch: the chain through it is up + down.
    const split = new DependencyGraph([...chain(600), ...edges([2000, 2001])]);
    // 2001 gets parent 600 (600 ancestors deep) and already has no children: 601.
    expect(split.check(2001, [600], 1000)).toBeNull();
    // 1 (the head, 600 jobs below it) gets parent 2001 (2 deep): 602.
    expect(split.check(1, [2001], 1000)).toBeNull();
    expect(split.check(1, [2001], 601)).toEqual({ kind: 'too_deep', depth: 602 });
  });

  it('measures wide graphs in linear time (memoised), and long chains without recursion', () => {
    // 300 layers of 300 jobs, every job a child of every job of the layer above: 27 million paths.
    const layer = 300;
    const wide: StoredEdge[] = [];
    for (let l = 0; l < 3; l++) {
      for (let a = 0; a < layer; a++)
        for (let b = 0; b < layer; b++) wide.push({ parentId: l * layer + a + 1, childId: (l + 1) * layer + b + 1 });
    }
    const g = new DependencyGraph(wide);
    const started = Date.now();
    expect(g.check(100_000, [4 * layer], 1000)).toBeNull();
    expect(g.check(1, [100_000], 1000)).toBeNull();
    expect(Date.now() - started).toBeLessThan(2000);
    const long = new DependencyGraph(chain(50_000));
    expect(long.check(null, [50_000], 100_000)).toBeNull();
    expect(long.check(null, [50_000], 1000)).toEqual({ kind: 'too_deep', depth: 50_001 });
  });

  it('ends on a stored cycle (a damaged graph) instead of looping', () => {
    const g = new DependencyGraph(edges([1, 2], [2, 1]));
    expect(g.check(3, [1], 1000)).toBeNull();
    expect(g.check(2, [3], 1000)).toBeNull();
  });
});
