// Durations and outcomes of the last runs as bars, oldest on the left: height is the duration, colour the status.
import type { RunJson } from '@app/contract';
import { formatDuration, formatShort, humanize } from '../lib/format';
import './run-chart.css';

const W = 600;
const H = 120;
const GAP = 2;

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export function RunChart({ runs }: { runs: RunJson[] }) {
  const ordered = [...runs].reverse();
  const durations = ordered.map((r) => r.durationMs).filter((d): d is number => d !== null);
  const max = Math.max(1, ...durations);
  const counts = new Map<string, number>();
  for (const r of ordered) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
  const med = median(durations);
  const summary =
    [...counts.entries()].map(([s, n]) => `${n} ${humanize(s)}`).join(', ') +
    (med !== null ? `; median duration ${formatDuration(med)}` : '');
  const slot = W / Math.max(ordered.length, 20);

  return (
    <figure className="chart">
      <svg
        viewBox={`0 0 ${W} ${H + 14}`}
        role="img"
        aria-label={`Last ${ordered.length} runs: ${summary}`}
        preserveAspectRatio="none"
      >
        <line x1="0" x2={W} y1={H} y2={H} className="chart-axis" />
        {ordered.map((r, i) => {
          const h = r.durationMs === null ? 4 : Math.max(3, (r.durationMs / max) * (H - 6));
          return (
            <rect
              key={r.id}
              className={`bar status-${r.status}`}
              x={i * slot + GAP / 2}
              y={H - h}
              width={Math.max(1, slot - GAP)}
              height={h}
            >
              <title>
                {`#${r.id} ${humanize(r.status)} · ${formatDuration(r.durationMs)} · ${formatShort(r.scheduledAt)}`}
              </title>
            </rect>
          );
        })}
      </svg>
      <figcaption>
        <span>
          Last {ordered.length} runs, oldest left · tallest {formatDuration(max)}
        </span>
        <span className="legend">
          {[...counts.entries()].map(([s, n]) => (
            <span key={s} className="legend-item">
              <span className={`swatch status-${s}`} aria-hidden="true" />
              {n} {humanize(s)}
            </span>
          ))}
          {med !== null && <span className="legend-item">median {formatDuration(med)}</span>}
        </span>
      </figcaption>
    </figure>
  );
}
