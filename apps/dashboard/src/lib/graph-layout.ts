// Where each job of a dependency graph (GET /api/jobs/:id/graph) is drawn: one column per level, ancestors left of
// the job and descendants right of it, each column's boxes stacked and centred. Pure and DOM-free (unit-tested), and
// linear but for one sort per column, so that the 2,000 nodes the API sends at most lay out in a few milliseconds.
//
// Order inside a column: the job's column first, then outwards, each node placed by the mean height of its neighbours
// in the columns already placed (its parents for a descendant, its children for an ancestor: a one-pass barycentre,
// which keeps most edges short and uncrossed), ties by name then id. It depends on nothing but the graph, never on the
// order the API listed nodes or edges in, so a reload draws the same picture.

export interface LayoutNodeIn {
  id: number;
  name: string;
  /** Negative: an ancestor that many edges up; 0: the job; positive: a descendant. */
  level: number;
}

export interface LayoutEdgeIn {
  parentId: number;
  childId: number;
}

export interface LayoutSize {
  nodeWidth: number;
  nodeHeight: number;
  columnGap: number;
  rowGap: number;
  padding: number;
}

export const DEFAULT_LAYOUT_SIZE: LayoutSize = {
  nodeWidth: 184,
  nodeHeight: 44,
  columnGap: 84,
  rowGap: 16,
  padding: 12,
};

/** How far an edge within one column (or backwards) bulges out to the right of it. */
const LOOP = 40;

export interface LaidNode<N> {
  node: N;
  column: number;
  row: number;
  /** Top left corner of the box. */
  x: number;
  y: number;
}

export interface LaidEdge<E> {
  edge: E;
  /** SVG path data from the parent's box to the child's (the arrow head goes at its end). */
  path: string;
  /** Where the edge's label (its condition) goes: the middle of the path. */
  labelX: number;
  labelY: number;
}

export interface GraphLayout<N, E> {
  nodes: LaidNode<N>[];
  /** Edges whose two ends are both drawn (a truncated graph may name a node it does not send). */
  edges: LaidEdge<E>[];
  width: number;
  height: number;
  columns: number;
}

const byNameThenId = (a: LayoutNodeIn, b: LayoutNodeIn) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.id - b.id);

export function layoutGraph<N extends LayoutNodeIn, E extends LayoutEdgeIn>(
  nodesIn: readonly N[],
  edgesIn: readonly E[],
  size: LayoutSize = DEFAULT_LAYOUT_SIZE,
): GraphLayout<N, E> {
  const { nodeWidth: w, nodeHeight: h, columnGap, rowGap, padding } = size;
  const pitch = h + rowGap;

  // One node per id (the first kept), grouped by level; the levels present become columns, left to right.
  const byId = new Map<number, N>();
  for (const n of nodesIn) if (!byId.has(n.id)) byId.set(n.id, n);
  const byLevel = new Map<number, N[]>();
  for (const n of byId.values()) {
    const list = byLevel.get(n.level);
    if (list) list.push(n);
    else byLevel.set(n.level, [n]);
  }
  const levels = [...byLevel.keys()].sort((a, b) => a - b);
  const columnOf = new Map(levels.map((l, i) => [l, i]));
  const tallest = Math.max(0, ...[...byLevel.values()].map((l) => l.length));

  const parentsOf = new Map<number, number[]>();
  const childrenOf = new Map<number, number[]>();
  const push = (m: Map<number, number[]>, k: number, v: number) => {
    const list = m.get(k);
    if (list) list.push(v);
    else m.set(k, [v]);
  };
  for (const e of edgesIn) {
    if (!byId.has(e.parentId) || !byId.has(e.childId)) continue;
    push(childrenOf, e.parentId, e.childId);
    push(parentsOf, e.childId, e.parentId);
  }

  /** Centre height of each node placed so far. */
  const centre = new Map<number, number>();
  const laid = new Map<number, LaidNode<N>>();
  const place = (level: number, neighbours: Map<number, number[]>) => {
    const list = byLevel.get(level) ?? [];
    const key = new Map<number, number>();
    for (const n of list) {
      let sum = 0;
      let count = 0;
      for (const m of neighbours.get(n.id) ?? []) {
        const c = centre.get(m);
        if (c !== undefined) {
          sum += c;
          count++;
        }
      }
      key.set(n.id, count ? sum / count : Infinity);
    }
    list.sort((a, b) => {
      const ka = key.get(a.id) ?? Infinity;
      const kb = key.get(b.id) ?? Infinity;
      return ka !== kb ? (ka < kb ? -1 : 1) : byNameThenId(a, b);
    });
    const column = columnOf.get(level) ?? 0;
    const top = padding + ((tallest - list.length) * pitch) / 2;
    list.forEach((node, row) => {
      const y = top + row * pitch;
      laid.set(node.id, { node, column, row, x: padding + column * (w + columnGap), y });
      centre.set(node.id, y + h / 2);
    });
  };

  // Outwards from the job: the job's level (0, or the nearest to it when a truncated graph lacks it), then the
  // descendants rightwards by their parents, then the ancestors leftwards by their children.
  const inner = levels.length ? levels.reduce((a, b) => (Math.abs(b) < Math.abs(a) ? b : a)) : 0;
  place(inner, new Map());
  for (const l of levels) if (l > inner) place(l, parentsOf);
  for (const l of [...levels].reverse()) if (l < inner) place(l, childrenOf);

  const edges: LaidEdge<E>[] = [];
  for (const e of edgesIn) {
    const p = laid.get(e.parentId);
    const c = laid.get(e.childId);
    if (!p || !c) continue;
    edges.push({ edge: e, ...edgePath(p, c, w, h) });
  }

  const columns = levels.length;
  const loops = edges.some((e) => laid.get(e.edge.childId)!.column <= laid.get(e.edge.parentId)!.column);
  return {
    nodes: [...laid.values()],
    edges,
    columns,
    width: columns ? 2 * padding + columns * w + (columns - 1) * columnGap + (loops ? LOOP : 0) : 0,
    height: tallest ? 2 * padding + tallest * pitch - rowGap : 0,
  };
}

const r = (n: number) => Math.round(n * 10) / 10;

/**
 * Forwards (the child in a column to the right): a curve from the parent's right side to the child's left side.
 * Within a column or backwards (levels are distances, so a skip edge can go either way): a loop out of the
 * parent's right side into the child's right side, bulging right of the wider of the two columns.
 */
function edgePath(
  p: { x: number; y: number; column: number },
  c: { x: number; y: number; column: number },
  w: number,
  h: number,
): { path: string; labelX: number; labelY: number } {
  const sx = p.x + w;
  const sy = p.y + h / 2;
  const ey = c.y + h / 2;
  if (c.column > p.column) {
    const ex = c.x;
    const dx = Math.max(24, (ex - sx) / 2);
    return {
      path: `M${r(sx)},${r(sy)} C${r(sx + dx)},${r(sy)} ${r(ex - dx)},${r(ey)} ${r(ex)},${r(ey)}`,
      // The middle of a cubic whose control points mirror each other is the middle of its ends.
      labelX: r((sx + ex) / 2),
      labelY: r((sy + ey) / 2),
    };
  }
  const ex = c.x + w;
  const out = Math.max(sx, ex) + LOOP;
  return {
    path: `M${r(sx)},${r(sy)} C${r(out)},${r(sy)} ${r(out)},${r(ey)} ${r(ex)},${r(ey)}`,
    labelX: r((sx + ex) / 8 + (3 * out) / 4),
    labelY: r((sy + ey) / 2),
  };
}

/** A name cut to fit a box: `max` characters at most, the cut marked with an ellipsis. */
export function clipText(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, Math.max(1, max - 1)).join('')}…`;
}
