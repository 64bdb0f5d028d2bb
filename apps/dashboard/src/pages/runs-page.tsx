// Every run, newest first, across jobs (GET /api/runs): what ran where, and what is running now.
import { RUN_STATUSES, RunStatus } from '@app/contract';
import { api } from '../lib/api';
import { formatDuration, formatLag, formatShort, humanize } from '../lib/format';
import { href, replaceRoute, Route } from '../hooks/router';
import { useLiveRefresh } from '../hooks/live';
import { useResource } from '../hooks/use-resource';
import { useCan } from '../hooks/session';
import { Pager } from '../components/pager';
import { Empty, ErrorState, Loading } from '../components/states';
import { StatusBadge } from '../components/status-badge';

const PAGE = 50;

export function RunsPage({ route }: { route: Route }) {
  const status = (route.query.get('status') ?? '') as RunStatus | '';
  const jobId = Number(route.query.get('job') ?? '') || undefined;
  const offset = Number(route.query.get('offset') ?? 0) || 0;
  const runs = useResource(
    (signal) => api.listRuns({ limit: PAGE, offset, status: status || undefined, jobId }, signal),
    [status, jobId, offset],
  );
  const jobs = useResource((signal) => api.listJobs({ limit: 500 }, signal), []);
  useLiveRefresh(runs.reload, (e) => e.type === 'run');
  useLiveRefresh(jobs.reload, (e) => e.type === 'job');
  const can = useCan();
  const names = new Map((jobs.data?.items ?? []).map((j) => [j.id, j.name]));
  const setFilter = (changes: Record<string, string | number | undefined>) =>
    replaceRoute(href('/runs', { status: status || undefined, job: jobId, ...changes }));

  return (
    <>
      <header className="page-header">
        <h1>Runs</h1>
      </header>
      <form className="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          <span>Status</span>
          <select value={status} onChange={(e) => setFilter({ status: e.target.value || undefined })}>
            <option value="">Any status</option>
            {RUN_STATUSES.map((s) => (
              <option key={s} value={s}>
                {humanize(s)}
              </option>
            ))}
          </select>
        </label>
        <label>
          <span>Job</span>
          <select value={jobId ?? ''} onChange={(e) => setFilter({ job: e.target.value || undefined })}>
            <option value="">All jobs</option>
            {[...names.entries()].map(([id, name]) => (
              <option key={id} value={id}>
                {name}
              </option>
            ))}
            {jobId !== undefined && !names.has(jobId) && <option value={jobId}>job #{jobId}</option>}
          </select>
        </label>
      </form>
      {runs.error !== undefined && <ErrorState error={runs.error} retry={runs.reload} what="runs" />}
      {runs.loading && !runs.data && <Loading what="runs" />}
      {runs.data && runs.data.total === 0 && (
        <Empty title={status || jobId ? 'No runs match these filters.' : 'No runs yet.'}>
          <p>
            Runs appear here as jobs fire.
            {can('operator') && (
              <>
                {' '}
                <a href={href('/jobs')}>Open a job</a> and use Run now to start one at once.
              </>
            )}
          </p>
        </Empty>
      )}
      {runs.data && runs.data.items.length > 0 && (
        <>
          <div className="table-wrap">
            <table className="table responsive" aria-busy={runs.loading}>
              <thead>
                <tr>
                  <th scope="col">Run</th>
                  <th scope="col">Job</th>
                  <th scope="col">Status</th>
                  <th scope="col">Trigger</th>
                  <th scope="col">Attempt</th>
                  <th scope="col">Executor</th>
                  <th scope="col">Scheduled</th>
                  <th scope="col">Lag</th>
                  <th scope="col">Duration</th>
                </tr>
              </thead>
              <tbody>
                {runs.data.items.map((r) => (
                  <tr key={r.id} data-status={r.status}>
                    <td data-label="Run">
                      <a href={href(`/jobs/${r.jobId}/runs/${r.id}`)}>#{r.id}</a>
                    </td>
                    <td data-label="Job">
                      <a href={href(`/jobs/${r.jobId}`)}>{names.get(r.jobId) ?? `job #${r.jobId}`}</a>
                    </td>
                    <td data-label="Status">
                      <StatusBadge status={r.status} run={r} />
                    </td>
                    <td data-label="Trigger">{humanize(r.trigger)}</td>
                    <td data-label="Attempt">{r.attempt}</td>
                    <td data-label="Executor" className="ellipsis mono" title={r.executorId ?? ''}>
                      {r.executorId ?? '—'}
                    </td>
                    <td data-label="Scheduled">
                      <time dateTime={r.scheduledAt}>{formatShort(r.scheduledAt)}</time>
                    </td>
                    <td data-label="Lag">{formatLag(r.scheduledAt, r.startedAt)}</td>
                    <td data-label="Duration">{formatDuration(r.durationMs)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager
            offset={offset}
            limit={PAGE}
            total={runs.data.total}
            capped={runs.data.totalCapped}
            maxOffset={10_000}
            shown={runs.data.items.length}
            what="runs"
            onChange={(o) => setFilter({ offset: o || undefined })}
          />
        </>
      )}
    </>
  );
}
