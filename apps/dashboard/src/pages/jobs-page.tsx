// Jobs: what is scheduled, when it fires next (and which dispatcher plans it) and how it last went; search,
// filters, and the everyday actions.
import { useEffect, useState } from 'react';
import { RUN_STATUSES, RunStatus } from '@app/contract';
import { api } from '../lib/api';
import { humanize } from '../lib/format';
import { href, replaceRoute, Route } from '../hooks/router';
import { useLiveRefresh } from '../hooks/live';
import { useDebounced } from '../hooks/use-now';
import { useResource } from '../hooks/use-resource';
import { useCan } from '../hooks/session';
import { JobActionButtons, useJobActions } from '../components/job-actions';
import { Pager } from '../components/pager';
import { RelTime } from '../components/rel-time';
import { Schedule } from '../components/schedule';
import { Empty, ErrorState, Loading } from '../components/states';
import { EnabledBadge, StatusBadge } from '../components/status-badge';
import './jobs-page.css';

const PAGE = 50;

export function JobsPage({ route }: { route: Route }) {
  const query = route.query;
  const [search, setSearch] = useState(query.get('q') ?? '');
  const q = useDebounced(search.trim(), 250);
  const group = query.get('group') ?? '';
  const state = query.get('state') ?? '';
  const last = (query.get('last') ?? '') as RunStatus | '';
  const offset = Number(query.get('offset') ?? 0) || 0;

  const setFilter = (changes: Record<string, string | undefined>) => {
    const next = { q: q || undefined, group, state, last, offset: undefined as string | undefined, ...changes };
    replaceRoute(href('/jobs', next));
  };
  useEffect(() => {
    if ((query.get('q') ?? '') !== q) setFilter({ q });
    // Only the debounced search text writes to the URL.
  }, [q]);

  const jobs = useResource(
    (signal) =>
      api.listJobs(
        {
          limit: PAGE,
          offset,
          q: q || undefined,
          group: group || undefined,
          enabled: state === 'enabled' ? true : state === 'paused' ? false : undefined,
          lastStatus: last || undefined,
        },
        signal,
      ),
    [q, group, state, last, offset],
  );
  const groups = useResource((signal) => api.executors(signal), []);
  useLiveRefresh(jobs.reload);
  const actions = useJobActions(jobs.reload);
  const can = useCan();

  const knownGroups = [
    ...new Set([
      'default',
      ...(groups.data ?? []).map((e) => e.group),
      ...(jobs.data?.items ?? []).map((j) => j.group),
      ...(group ? [group] : []),
    ]),
  ].sort();
  const filtered = Boolean(q || group || state || last);

  return (
    <>
      <header className="page-header">
        <h1>Jobs</h1>
        {can('admin') && (
          <a className="button button-primary" href={href('/jobs/new')}>
            New job
          </a>
        )}
      </header>

      <form className="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <label>
          <span>Search</span>
          <input
            type="search"
            value={search}
            placeholder="Name or description"
            onChange={(e) => setSearch(e.target.value)}
          />
        </label>
        <label>
          <span>Group</span>
          <select value={group} onChange={(e) => setFilter({ group: e.target.value })}>
            <option value="">All groups</option>
            {knownGroups.map((g) => (
              <option key={g} value={g}>
                {g}
              </option>
            ))}
          </select>
        </label>
        <label>
          <span>State</span>
          <select value={state} onChange={(e) => setFilter({ state: e.target.value })}>
            <option value="">Enabled and paused</option>
            <option value="enabled">Enabled</option>
            <option value="paused">Paused</option>
          </select>
        </label>
        <label>
          <span>Last run</span>
          <select value={last} onChange={(e) => setFilter({ last: e.target.value })}>
            <option value="">Any status</option>
            {RUN_STATUSES.map((s) => (
              <option key={s} value={s}>
                {humanize(s)}
              </option>
            ))}
          </select>
        </label>
        {filtered && (
          <button
            type="button"
            className="button button-quiet"
            onClick={() => {
              setSearch('');
              replaceRoute(href('/jobs'));
            }}
          >
            Clear filters
          </button>
        )}
      </form>

      {jobs.error !== undefined && <ErrorState error={jobs.error} retry={jobs.reload} what="jobs" />}
      {jobs.loading && !jobs.data && <Loading what="jobs" />}
      {jobs.data && jobs.data.total === 0 && !filtered && (
        <Empty title="No jobs yet.">
          {can('admin') ? (
            <p>
              Create one with <a href={href('/jobs/new')}>New job</a>: a shell command or an HTTP request, on a cron
              schedule in any time zone. Scripts can use <code>POST /api/jobs</code> (see the{' '}
              <a href="/api/docs">API docs</a>).
            </p>
          ) : (
            <p>An admin creates them; they show up here as soon as one does.</p>
          )}
        </Empty>
      )}
      {jobs.data && jobs.data.total === 0 && filtered && (
        <Empty title="No jobs match these filters.">
          <p>Change the search or the filters above, or clear them.</p>
        </Empty>
      )}
      {jobs.data && jobs.data.items.length > 0 && (
        <>
          <div className="table-wrap">
            <table className="table table-jobs responsive" aria-busy={jobs.loading}>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Schedule</th>
                  <th scope="col">Time zone</th>
                  <th scope="col">Next run</th>
                  <th scope="col">Last run</th>
                  <th scope="col">State</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {jobs.data.items.map((job) => (
                  <tr key={job.id} data-job={job.name}>
                    <td data-label="Name">
                      <a className="strong" href={href(`/jobs/${job.id}`)}>
                        {job.name}
                      </a>
                      <span className="sub">
                        {job.type === 'http' ? `HTTP ${job.http?.method ?? ''}` : 'shell'} · {job.group}
                        {job.description ? ` · ${job.description}` : ''}
                      </span>
                    </td>
                    <td data-label="Schedule">
                      <Schedule cron={job.cron} />
                    </td>
                    <td data-label="Time zone">{job.timezone}</td>
                    <td data-label="Next run">
                      <RelTime
                        upcoming
                        iso={job.nextRunAt}
                        timeZone={job.timezone}
                        empty={job.enabled ? 'never' : 'paused'}
                      />
                      <span className="sub owner" title={job.owner ? `planned by dispatcher ${job.owner}` : 'no owner'}>
                        {job.owner ? (
                          <>
                            by <span className="mono">{job.owner}</span>
                          </>
                        ) : (
                          '—'
                        )}
                      </span>
                    </td>
                    <td data-label="Last run">
                      {job.lastRun ? (
                        <a className="last-run" href={href(`/jobs/${job.id}/runs/${job.lastRun.id}`)}>
                          <StatusBadge status={job.lastRun.status} /> <RelTime iso={job.lastRun.scheduledAt} />
                        </a>
                      ) : (
                        <span className="muted">no runs yet</span>
                      )}
                    </td>
                    <td data-label="State">
                      <EnabledBadge enabled={job.enabled} />
                    </td>
                    <td className="cell-actions">
                      <JobActionButtons job={job} actions={actions} compact />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager
            offset={offset}
            limit={PAGE}
            total={jobs.data.total}
            capped={jobs.data.totalCapped}
            shown={jobs.data.items.length}
            what="jobs"
            onChange={(o) => setFilter({ offset: String(o) })}
          />
        </>
      )}
    </>
  );
}
