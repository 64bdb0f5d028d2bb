// A run's neighbours in the dependency graph (GET /api/runs/:id): the parent runs whose finish started it (upstream)
// and the runs its finish started (downstream), each linking to its own page.
import type { RunDetailJson, RunLinkJson } from '@app/contract';
import { runHref } from '../lib/dependency-words';
import { formatShort } from '../lib/format';
import { href } from '../hooks/router';
import { StatusBadge } from './status-badge';

function LinkTable({ id, title, links }: { id: string; title: string; links: RunLinkJson[] }) {
  return (
    <section className="run-links" aria-labelledby={id} data-links={id}>
      <h3 id={id}>{title}</h3>
      <div className="table-wrap">
        <table className="table responsive">
          <thead>
            <tr>
              <th scope="col">Run</th>
              <th scope="col">Job</th>
              <th scope="col">Status</th>
              <th scope="col">Scheduled</th>
              <th scope="col">Finished</th>
            </tr>
          </thead>
          <tbody>
            {links.map((l) => (
              <tr key={l.id} data-run={l.id} data-status={l.status}>
                <td data-label="Run">
                  <a href={href(runHref(l))}>#{l.id}</a>
                </td>
                <td data-label="Job">
                  <a href={href(`/jobs/${l.jobId}`)}>{l.jobName ?? `job #${l.jobId} (deleted)`}</a>
                </td>
                <td data-label="Status">
                  <StatusBadge status={l.status} />
                </td>
                <td data-label="Scheduled">
                  <time dateTime={l.scheduledAt}>{formatShort(l.scheduledAt)}</time>
                </td>
                <td data-label="Finished">
                  {l.finishedAt ? <time dateTime={l.finishedAt}>{formatShort(l.finishedAt)}</time> : '—'}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

export function RunLinks({ run }: { run: Pick<RunDetailJson, 'upstream' | 'downstream' | 'parentRunIds'> }) {
  const upstream = run.upstream ?? [];
  const downstream = run.downstream ?? [];
  // Parent runs named by the run that the answer no longer has (retention removed them): said, not linked.
  const shown = new Set(upstream.map((l) => l.id));
  const gone = (run.parentRunIds ?? []).filter((id) => !shown.has(id));
  if (upstream.length === 0 && downstream.length === 0 && gone.length === 0) return null;
  return (
    <div className="run-links-all">
      {upstream.length > 0 && <LinkTable id="upstream-title" title="Upstream runs" links={upstream} />}
      {gone.length > 0 && (
        <p className="hint">
          Parent run{gone.length === 1 ? '' : 's'} {gone.map((id) => `#${id}`).join(', ')} no longer kept.
        </p>
      )}
      {downstream.length > 0 && <LinkTable id="downstream-title" title="Downstream runs" links={downstream} />}
    </div>
  );
}
