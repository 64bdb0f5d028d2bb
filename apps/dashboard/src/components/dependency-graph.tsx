// A job's dependency graph (GET /api/jobs/:id/graph) as an SVG: one column a level (ancestors left, descendants
// right), a box a job linking to its page, an arrow a dependency labelled with its condition. The job itself is
// highlighted, paused jobs dimmed. The lists beside it (job page) say the same in text for the direct relations.
import { useEffect, useMemo, useRef } from 'react';
import { DEPENDENCY_CONDITIONS, JobGraphJson } from '@app/contract';
import { CONDITION_SHORT } from '../lib/dependency-words';
import { clipText, DEFAULT_LAYOUT_SIZE, layoutGraph } from '../lib/graph-layout';
import { href } from '../hooks/router';
import './dependency-graph.css';

type GraphNode = JobGraphJson['nodes'][number];

const { nodeWidth: W, nodeHeight: H } = DEFAULT_LAYOUT_SIZE;
/** Characters that fit a box at the sizes of dependency-graph.css. */
const NAME_CHARS = 24;
const SUB_CHARS = 30;

function subtitle(n: GraphNode): string {
  const when = n.cron || (n.dependencyMode === 'all' ? 'after all parents' : 'after any parent');
  return n.enabled ? when : `paused · ${when}`;
}

function relation(n: GraphNode): string {
  if (n.level === 0) return 'this job';
  const steps = Math.abs(n.level);
  if (n.level < 0) return steps === 1 ? 'parent' : `ancestor, ${steps} levels up`;
  return steps === 1 ? 'child' : `descendant, ${steps} levels down`;
}

export function DependencyGraph({ graph, name }: { graph: JobGraphJson; name: string }) {
  const layout = useMemo(() => layoutGraph(graph.nodes, graph.edges), [graph]);
  const scroller = useRef<HTMLDivElement>(null);
  const self = layout.nodes.find((n) => n.node.id === graph.jobId);

  // A graph wider or taller than the card opens on the job itself.
  useEffect(() => {
    const el = scroller.current;
    if (!el || !self) return;
    el.scrollLeft = Math.max(0, self.x + W / 2 - el.clientWidth / 2);
    el.scrollTop = Math.max(0, self.y + H / 2 - el.clientHeight / 2);
  }, [graph.jobId, self?.x, self?.y]);

  return (
    <figure className="dep-graph">
      <div
        className="dep-graph-scroll"
        ref={scroller}
        tabIndex={0}
        role="region"
        aria-label={`Dependency graph of ${name} (scrolls)`}
      >
        <svg
          width={layout.width}
          height={layout.height}
          viewBox={`0 0 ${layout.width} ${layout.height}`}
          role="group"
          aria-label={`${layout.nodes.length} jobs and ${layout.edges.length} dependencies around ${name}`}
        >
          <defs>
            {DEPENDENCY_CONDITIONS.map((c) => (
              <marker
                key={c}
                id={`dep-arrow-${c}`}
                className={`dep-arrow on-${c}`}
                viewBox="0 0 10 10"
                refX="9"
                refY="5"
                markerWidth="7"
                markerHeight="7"
                orient="auto-start-reverse"
              >
                <path d="M0,0 L10,5 L0,10 z" />
              </marker>
            ))}
          </defs>
          <g className="dep-edges">
            {layout.edges.map(({ edge, path }) => (
              <path
                key={`${edge.parentId}-${edge.childId}`}
                className={`dep-edge on-${edge.on}`}
                d={path}
                markerEnd={`url(#dep-arrow-${edge.on})`}
                data-edge={`${edge.parentId}-${edge.childId}`}
              />
            ))}
          </g>
          <g className="dep-nodes">
            {layout.nodes.map(({ node, x, y }) => {
              const current = node.id === graph.jobId;
              const label = `${node.name} (${relation(node)}${node.enabled ? '' : ', paused'})`;
              const box = (
                <>
                  <title>{`${node.name}${node.cron ? ` · ${node.cron}` : ''}`}</title>
                  <rect x={x} y={y} width={W} height={H} rx={5} />
                  <text className="dep-name" x={x + 10} y={y + 18}>
                    {clipText(node.name, NAME_CHARS)}
                  </text>
                  <text className="dep-sub" x={x + 10} y={y + 34}>
                    {clipText(subtitle(node), SUB_CHARS)}
                  </text>
                </>
              );
              const className = `dep-node${current ? ' current' : ''}${node.enabled ? '' : ' disabled'}`;
              return current ? (
                <g key={node.id} className={className} data-node={node.id} role="img" aria-label={label}>
                  {box}
                </g>
              ) : (
                <a
                  key={node.id}
                  className={className}
                  data-node={node.id}
                  href={href(`/jobs/${node.id}`)}
                  aria-label={label}
                >
                  {box}
                </a>
              );
            })}
          </g>
          {/* Labels last, over the boxes' edges and the other lines. */}
          <g className="dep-labels" aria-hidden="true">
            {layout.edges.map(({ edge, labelX, labelY }) => (
              <text
                key={`${edge.parentId}-${edge.childId}`}
                className={`dep-label on-${edge.on}`}
                x={labelX}
                y={labelY}
                textAnchor="middle"
                dominantBaseline="central"
              >
                {edge.on}
              </text>
            ))}
          </g>
        </svg>
      </div>
      <figcaption>
        <span>
          Arrows go from a parent to the child its run starts: {CONDITION_SHORT.success},{' '}
          <span className="dep-key on-failure">{CONDITION_SHORT.failure}</span>,{' '}
          <span className="dep-key on-always">{CONDITION_SHORT.always}</span>. Dimmed: paused.
        </span>
        {graph.truncated && (
          <span className="dep-truncated" role="note">
            The graph is larger than {graph.nodes.length.toLocaleString()} jobs: only those are drawn.
          </span>
        )}
      </figcaption>
    </figure>
  );
}
