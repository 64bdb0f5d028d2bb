import { clipText, DEFAULT_LAYOUT_SIZE, GraphLayout, layoutGraph, LayoutEdgeIn, LayoutNodeIn } from './graph-layout';

const node = (id: number, level: number, name = `job-${id}`): LayoutNodeIn => ({ id, level, name });
const edge = (parentId: number, childId: number): LayoutEdgeIn => ({ parentId, childId });

const at = (layout: GraphLayout<LayoutNodeIn, LayoutEdgeIn>, id: number) => {
  const n = layout.nodes.find((l) => l.node.id === id);
  if (!n) throw new Error(`node ${id} not laid out`);
  return n;
};

/** Every pair of boxes is apart (O(n²): for the small graphs here, and a sample of the big one). */
function overlapping(layout: GraphLayout<LayoutNodeIn, LayoutEdgeIn>): [number, number][] {
  const { nodeWidth: w, nodeHeight: h } = DEFAULT_LAYOUT_SIZE;
  const out: [number, number][] = [];
  const list = layout.nodes;
  for (let i = 0; i < list.length; i++)
    for (let j = i + 1; j < list.length; j++) {
      const a = list[i];
      const b = list[j];
      if (a.x < b.x + w && b.x < a.x + w && a.y < b.y + h && b.y < a.y + h) out.push([a.node.id, b.node.id]);
    }
  return out;
}

/** A deterministic shuffle (no Math.random in tests). */
function shuffled<T>(list: readonly T[], seed: number): T[] {
  const out = [...list];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

describe('layoutGraph', () => {
  it('puts each level in a column, ancestors left of the job and descendants right of it', () => {
    const layout = layoutGraph(
      [node(1, -2), node(2, -1), node(3, 0), node(4, 1), node(5, 2)],
      [edge(1, 2), edge(2, 3), edge(3, 4), edge(4, 5)],
    );
    expect([1, 2, 3, 4, 5].map((id) => at(layout, id).column)).toEqual([0, 1, 2, 3, 4]);
    const xs = [1, 2, 3, 4, 5].map((id) => at(layout, id).x);
    expect([...xs].sort((a, b) => a - b)).toEqual(xs);
    expect(new Set(xs).size).toBe(5);
    expect(layout.columns).toBe(5);
    expect(layout.edges).toHaveLength(4);
  });

  it('makes columns of the levels present only, so a gap in the levels leaves no empty column', () => {
    const layout = layoutGraph([node(1, -3), node(2, 0), node(3, 4)], []);
    expect([1, 2, 3].map((id) => at(layout, id).column)).toEqual([0, 1, 2]);
  });

  it('stacks a fan-out in one column without overlap, and centres a shorter column on the tallest', () => {
    const children = Array.from({ length: 6 }, (_, i) => node(10 + i, 1));
    const layout = layoutGraph(
      [node(1, 0), ...children],
      children.map((c) => edge(1, c.id)),
    );
    expect(overlapping(layout)).toEqual([]);
    expect(new Set(children.map((c) => at(layout, c.id).row)).size).toBe(6);
    const ys = children.map((c) => at(layout, c.id).y);
    const middle = (Math.min(...ys) + Math.max(...ys)) / 2;
    expect(at(layout, 1).y).toBeCloseTo(middle, 5);
    const { nodeHeight: h, rowGap, padding } = DEFAULT_LAYOUT_SIZE;
    expect(layout.height).toBe(2 * padding + 6 * h + 5 * rowGap);
  });

  it('orders a column by its neighbours in the column before it, so that edges do not cross', () => {
    // The job's children y and z (y first, by name); y's child is named b-child, z's a-child: by name alone the
    // third column would be a-child, b-child, crossing the two edges.
    const layout = layoutGraph(
      [node(1, 0, 'job'), node(2, 1, 'z'), node(3, 1, 'y'), node(4, 2, 'b-child'), node(5, 2, 'a-child')],
      [edge(1, 2), edge(1, 3), edge(3, 4), edge(2, 5)],
    );
    expect(at(layout, 3).row).toBe(0);
    expect(at(layout, 2).row).toBe(1);
    expect(at(layout, 4).row).toBe(0);
    expect(at(layout, 5).row).toBe(1);
  });

  it('orders ancestors by their children in the column to their right', () => {
    const layout = layoutGraph(
      [node(1, 0, 'job'), node(2, -1, 'p1'), node(3, -1, 'p2'), node(4, -2, 'aa'), node(5, -2, 'zz')],
      [edge(2, 1), edge(3, 1), edge(5, 2), edge(4, 3)],
    );
    expect(at(layout, 2).row).toBe(0);
    expect(at(layout, 5).row).toBe(0); // zz feeds p1 (row 0), aa feeds p2 (row 1)
    expect(at(layout, 4).row).toBe(1);
  });

  it('draws the same picture whatever order the API lists nodes and edges in', () => {
    const nodes = [
      node(1, 0),
      ...Array.from({ length: 30 }, (_, i) => node(100 + i, -1 - (i % 3), `up-${(i * 7) % 11}`)),
      ...Array.from({ length: 30 }, (_, i) => node(200 + i, 1 + (i % 4), `down-${(i * 5) % 13}`)),
    ];
    // Each node hangs off one node of the level nearer the job, picked by a rule that ignores list order.
    const nearer = (n: LayoutNodeIn) => {
      const level = n.level < 0 ? n.level + 1 : n.level - 1;
      const candidates = nodes.filter((m) => m.level === level);
      return candidates.find((m) => (m.id + n.id) % 3 === 0) ?? candidates[0];
    };
    const edges: LayoutEdgeIn[] = nodes
      .filter((n) => n.level !== 0)
      .map((n) => (n.level < 0 ? edge(n.id, nearer(n).id) : edge(nearer(n).id, n.id)));
    const pos = (l: GraphLayout<LayoutNodeIn, LayoutEdgeIn>) =>
      Object.fromEntries(l.nodes.map((n) => [n.node.id, [n.x, n.y]]));
    const first = layoutGraph(nodes, edges);
    expect(overlapping(first)).toEqual([]);
    for (const seed of [1, 2, 3]) {
      expect(pos(layoutGraph(shuffled(nodes, seed), shuffled(edges, seed + 10)))).toEqual(pos(first));
    }
  });

  it('draws forward edges from the right side of the parent to the left side of the child, labelled in the middle', () => {
    const { nodeWidth: w, nodeHeight: h } = DEFAULT_LAYOUT_SIZE;
    const layout = layoutGraph([node(1, 0), node(2, 1)], [edge(1, 2)]);
    const p = at(layout, 1);
    const c = at(layout, 2);
    const [e] = layout.edges;
    expect(e.path.startsWith(`M${p.x + w},${p.y + h / 2} C`)).toBe(true);
    expect(e.path.endsWith(` ${c.x},${c.y + h / 2}`)).toBe(true);
    expect(e.labelX).toBe((p.x + w + c.x) / 2);
    expect(e.labelY).toBe(p.y + h / 2);
  });

  it('loops an edge within one column out to the right, and widens the picture for it', () => {
    const withLoop = layoutGraph([node(1, 0), node(2, 1), node(3, 1)], [edge(1, 2), edge(1, 3), edge(2, 3)]);
    const without = layoutGraph([node(1, 0), node(2, 1), node(3, 1)], [edge(1, 2), edge(1, 3)]);
    expect(withLoop.width).toBeGreaterThan(without.width);
    const loop = withLoop.edges.find((e) => e.edge.parentId === 2)!;
    expect(loop.labelX).toBeGreaterThan(at(withLoop, 2).x + DEFAULT_LAYOUT_SIZE.nodeWidth);
  });

  it('keeps one node per id and drops edges to nodes it was not sent (a truncated graph)', () => {
    const layout = layoutGraph([node(1, 0), node(1, 0), node(2, 1)], [edge(1, 2), edge(2, 99), edge(98, 1)]);
    expect(layout.nodes).toHaveLength(2);
    expect(layout.edges.map((e) => e.edge)).toEqual([edge(1, 2)]);
  });

  it('lays out an empty graph as nothing', () => {
    expect(layoutGraph([], [])).toMatchObject({ nodes: [], edges: [], width: 0, height: 0, columns: 0 });
  });

  it('lays out 2,000 nodes (the most the API sends) cheaply and without overlap', () => {
    // A fan-out of 500 from the job, each with a chain of three: 2,000 nodes, 2,000 edges, 500 boxes a column.
    const nodes: LayoutNodeIn[] = [node(0, 0)];
    const edges: LayoutEdgeIn[] = [];
    for (let i = 1; i < 2000; i++) {
      const depth = ((i - 1) % 4) + 1;
      nodes.push(node(i, depth, `n-${(i * 7919) % 2000}`));
      edges.push(edge(depth === 1 ? 0 : i - 1, i));
    }
    const started = performance.now();
    const layout = layoutGraph(nodes, edges);
    const took = performance.now() - started;
    expect(layout.nodes).toHaveLength(2000);
    expect(layout.edges).toHaveLength(1999);
    // Boxes overlap only within a column (columns are apart): each column's rows are distinct and a pitch apart.
    const { nodeHeight: h, nodeWidth: w } = DEFAULT_LAYOUT_SIZE;
    const byColumn = new Map<number, number[]>();
    for (const n of layout.nodes) byColumn.set(n.column, [...(byColumn.get(n.column) ?? []), n.y]);
    for (const ys of byColumn.values()) {
      const sorted = [...ys].sort((a, b) => a - b);
      for (let i = 1; i < sorted.length; i++) expect(sorted[i] - sorted[i - 1]).toBeGreaterThanOrEqual(h);
    }
    const xs = [...new Set(layout.nodes.map((n) => n.x))].sort((a, b) => a - b);
    for (let i = 1; i < xs.length; i++) expect(xs[i] - xs[i - 1]).toBeGreaterThanOrEqual(w);
    // Chains stay straight where the columns are as tall (levels 1 to 3: 500 each): a node beside its parent.
    for (let i = 2; i < 2000; i++) {
      const depth = ((i - 1) % 4) + 1;
      if (depth === 2 || depth === 3) expect(at(layout, i).y).toBe(at(layout, i - 1).y);
    }
    expect(took).toBeLessThan(250); // a few ms on a laptop; generous for a loaded CI machine
  });
});

describe('clipText', () => {
  it('keeps a short name and cuts a long one with an ellipsis', () => {
    expect(clipText('nightly', 10)).toBe('nightly');
    expect(clipText('a-very-long-job-name', 10)).toBe('a-very-lo…');
    expect([...clipText('a-very-long-job-name', 10)]).toHaveLength(10);
    expect(clipText('日本語のジョブ名です', 5)).toBe('日本語の…');
  });
});
