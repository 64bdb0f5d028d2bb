// One job: its definition, a chart of its last runs, its dependencies (graph, parents, children), its run history,
// and one run's output beside it with the runs upstream and downstream of it.
import { useEffect } from 'react';
import { isActive, JobJson, RUN_STATUSES, RunJson, RunStatus } from '@app/contract';
import { api, ApiError, errorText } from '../lib/api';
import { modeSummary } from '../lib/dependency-words';
import { formatDuration, formatLag, formatShort, humanize } from '../lib/format';
import { ownerNote } from '../lib/shard-words';
import { href, navigate, replaceRoute, Route } from '../hooks/router';
import { useLiveRefresh } from '../hooks/live';
import { useResource } from '../hooks/use-resource';
import { useCan } from '../hooks/session';
import { AsyncButton } from '../components/async-button';
import { JobActionButtons, useJobActions } from '../components/job-actions';
import { JobDependencies } from '../components/job-dependencies';
import { OutputViewer } from '../components/output-viewer';
import { Pager } from '../components/pager';
import { RelTime } from '../components/rel-time';
import { RunChart } from '../components/run-chart';
import { Schedule } from '../components/schedule';
import { Empty, ErrorState, Loading } from '../components/states';
import { EnabledBadge, StatusBadge } from '../components/status-badge';
import { useToast } from '../components/toasts';
import './job-detail-page.css';

const PAGE = 20;
const CHART_RUNS = 60;

export function JobDetailPage({ jobId, runId, route }: { jobId: number; runId?: number; route: Route }) {
  const status = (route.query.get('status') ?? '') as RunStatus | '';
  const offset = Number(route.query.get('offset') ?? 0) || 0;
  const toast = useToast();
  const can = useCan();

  const job = useResource((signal) => api.getJob(jobId, signal), [jobId]);
  const runs = useResource(
    (signal) => api.jobRuns(jobId, { limit: PAGE, offset, status: status || undefined }, signal),
    [jobId, status, offset],
  );
  const recent = useResource((signal) => api.jobRuns(jobId, { limit: CHART_RUNS }, signal), [jobId]);
  const selected = useResource((signal) => (runId ? api.getRun(runId, signal) : Promise.resolve(null)), [runId]);
  // The graph is asked for only once the job is known to have parents or children.
  const related = !!job.data && (job.data.dependsOn ?? []).length + (job.data.children ?? []).length > 0;
  const graph = useResource(
    (signal) => (related ? api.jobGraph(jobId, signal) : Promise.resolve(undefined)),
    [jobId, related],
  );
  const forThisJob = (e: { jobId?: number }) => e.jobId === undefined || e.jobId === jobId;
  // The jobs whose runs can be upstream or downstream of this job's runs.
  const neighbours = new Set([
    ...(job.data?.dependsOn ?? []).map((d) => d.jobId),
    ...(job.data?.children ?? []).map((c) => c.jobId),
  ]);
  const linkedRuns = new Set(
    [...(selected.data?.upstream ?? []), ...(selected.data?.downstream ?? [])].map((l) => l.id),
  );
  // Another job's change may be a new child of this one, or a child paused: the job's `children` come with it.
  useLiveRefresh(job.reload, (e) => e.type === 'job' || forThisJob(e));
  useLiveRefresh(runs.reload, (e) => e.type === 'run' && forThisJob(e));
  useLiveRefresh(recent.reload, (e) => e.type === 'run' && forThisJob(e));
  useLiveRefresh(
    selected.reload,
    (e) =>
      e.type === 'run' &&
      (e.runId === runId ||
        e.jobId === undefined ||
        linkedRuns.has(e.runId) ||
        // a child run just created by this one's finish
        (e.jobId !== undefined && neighbours.has(e.jobId))),
  );
  // Any job's change may add or remove an edge around this one (a new child names it in its dependsOn).
  useLiveRefresh(graph.reload, (e) => e.type === 'job');
  const actions = useJobActions(() => {
    job.reload();
    runs.reload();
    graph.reload();
  });

  // A run of another job (an edited address): show it on its own job's page.
  useEffect(() => {
    const run = selected.data;
    if (run && run.id === runId && run.jobId !== jobId) replaceRoute(href(`/jobs/${run.jobId}/runs/${run.id}`));
  }, [selected.data, runId, jobId]);

  // A run was picked: bring its output into view and take the keyboard there.
  useEffect(() => {
    if (!runId || selected.data?.id !== runId) return;
    document.getElementById('output-title')?.focus({ preventScroll: true });
    document.getElementById('run-output')?.scrollIntoView({ block: 'nearest' });
  }, [runId, selected.data?.id]);

  const base = `/jobs/${jobId}`;
  const keep = { status: status || undefined, offset: offset || undefined };
  const cancel = async (run: RunJson) => {
    try {
      await api.cancelRun(run.id);
      toast(`Cancelling run #${run.id}.`);
    } catch (e) {
      toast(errorText(e), 'error');
    }
    runs.reload();
    selected.reload();
  };

  const deleted = job.error instanceof ApiError && job.error.status === 404;
  const name = job.data?.name ?? `Job #${jobId}`;

  return (
    <>
      <header className="page-header">
        <div>
          <p className="crumbs">
            <a href={href('/jobs')}>Jobs</a>
          </p>
          <h1>
            {name} {job.data && <EnabledBadge enabled={job.data.enabled} />}
          </h1>
        </div>
        {job.data && <JobActionButtons job={job.data} actions={actions} onDeleted={() => navigate(href('/jobs'))} />}
      </header>

      {deleted && (
        <div className="state state-empty">
          <p className="state-title">This job does not exist (any more).</p>
          <p>When a job is deleted its run history stays: the runs it had are listed below.</p>
        </div>
      )}
      {job.error !== undefined && !deleted && <ErrorState error={job.error} retry={job.reload} what="the job" />}
      {job.loading && !job.data && !job.error && <Loading what="the job" />}

      {job.data && (
        <div className="detail-top">
          <JobSummary job={job.data} />
          <section className="card" aria-labelledby="chart-title">
            <h2 id="chart-title">Recent runs</h2>
            {recent.data && recent.data.items.length > 0 ? (
              <RunChart runs={recent.data.items} />
            ) : (
              <p className="muted">
                No runs yet. It runs at its next tick{can('operator') ? ', or now with Run now' : ''}.
              </p>
            )}
          </section>
        </div>
      )}

      {job.data && related && (
        <div className="detail-deps">
          <JobDependencies job={job.data} graph={graph} />
        </div>
      )}

      <div className="detail-runs">
        {runId !== undefined && (
          <div className="output-column">
            {selected.error !== undefined && (
              <ErrorState error={selected.error} retry={selected.reload} what={`run ${runId}`} />
            )}
            {selected.loading && !selected.data && <Loading what={`run ${runId}`} />}
            {selected.data && selected.data.id === runId && selected.data.jobId === jobId && (
              <OutputViewer run={selected.data} onCancel={cancel} closeHref={href(base, keep)} />
            )}
          </div>
        )}
        <section className="card" aria-labelledby="runs-title">
          <div className="section-header">
            <h2 id="runs-title">Runs</h2>
            <label className="inline-label">
              <span>Status</span>
              <select
                value={status}
                onChange={(e) =>
                  replaceRoute(href(runId ? `${base}/runs/${runId}` : base, { status: e.target.value || undefined }))
                }
              >
                <option value="">Any</option>
                {RUN_STATUSES.map((s) => (
                  <option key={s} value={s}>
                    {humanize(s)}
                  </option>
                ))}
              </select>
            </label>
          </div>
          {runs.error !== undefined && <ErrorState error={runs.error} retry={runs.reload} what="runs" />}
          {runs.loading && !runs.data && <Loading what="runs" />}
          {runs.data && runs.data.total === 0 && (
            <Empty title={status ? `No ${humanize(status)} runs.` : 'No runs yet.'}>
              {!status && job.data && (
                <p>
                  {job.data.enabled ? (
                    <>
                      The next one is due <RelTime upcoming iso={job.data.nextRunAt} empty="never" />.
                    </>
                  ) : (
                    'The job is paused.'
                  )}{' '}
                  {can('operator') && 'Use Run now to run it at once.'}
                </p>
              )}
            </Empty>
          )}
          {runs.data && runs.data.items.length > 0 && (
            <>
              <div className="table-wrap">
                <table className="table table-runs responsive" aria-busy={runs.loading}>
                  <thead>
                    <tr>
                      <th scope="col">Run</th>
                      <th scope="col">Status</th>
                      <th scope="col">Trigger</th>
                      <th scope="col">Attempt</th>
                      <th scope="col">Executor</th>
                      <th scope="col">Scheduled</th>
                      <th scope="col" title="started minus scheduled">
                        Lag
                      </th>
                      <th scope="col">Duration</th>
                      <th scope="col">
                        <span className="visually-hidden">Actions</span>
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {runs.data.items.map((r) => (
                      <tr key={r.id} data-run={r.id} data-status={r.status} aria-current={r.id === runId || undefined}>
                        <td data-label="Run">
                          <a href={href(`${base}/runs/${r.id}`, keep)}>#{r.id}</a>
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
                        <td className="cell-actions">
                          <div className="actions">
                            <a className="button" href={href(`${base}/runs/${r.id}`, keep)}>
                              Output
                            </a>
                            {isActive(r.status) && can('operator') && (
                              <AsyncButton
                                className="button button-danger-quiet"
                                aria-label={`Cancel run ${r.id}`}
                                onClick={() => cancel(r)}
                              >
                                Cancel
                              </AsyncButton>
                            )}
                          </div>
                        </td>
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
                onChange={(o) =>
                  replaceRoute(href(runId ? `${base}/runs/${runId}` : base, { ...keep, offset: o || undefined }))
                }
              />
            </>
          )}
        </section>
      </div>
    </>
  );
}

function JobSummary({ job }: { job: JobJson }) {
  return (
    <section className="card" aria-labelledby="summary-title">
      <h2 id="summary-title" className="visually-hidden">
        Definition
      </h2>
      {job.description && <p className="description">{job.description}</p>}
      <dl className="facts">
        <dt>Schedule</dt>
        <dd>
          <Schedule cron={job.cron} after={`runs ${modeSummary(job.dependencyMode, (job.dependsOn ?? []).length)}`} />{' '}
          {job.cron && <span className="muted">in {job.timezone}</span>}
        </dd>
        <dt>Next run</dt>
        <dd>
          <RelTime upcoming iso={job.nextRunAt} timeZone={job.timezone} empty={job.enabled ? 'never' : 'paused'} />
        </dd>
        <dt>Last run</dt>
        <dd>
          {job.lastRun ? (
            <a href={href(`/jobs/${job.id}/runs/${job.lastRun.id}`)}>
              <StatusBadge status={job.lastRun.status} /> <RelTime iso={job.lastRun.scheduledAt} />
            </a>
          ) : (
            <span className="muted">none yet</span>
          )}
        </dd>
        {job.type === 'shell' ? (
          <>
            <dt>Command</dt>
            <dd>
              <code className="block">{job.command}</code>
            </dd>
            {Object.keys(job.env).length > 0 && (
              <>
                <dt>Environment</dt>
                <dd className="mono">
                  {Object.entries(job.env)
                    .map(([k, v]) => `${k}=${v}`)
                    .join(' ')}
                </dd>
              </>
            )}
            <SecretNames label="Secret environment" names={job.secretEnv} />
          </>
        ) : (
          <>
            <dt>Request</dt>
            <dd>
              <code className="block">
                {job.http?.method} {job.http?.url}
              </code>
              {job.http && job.http.expectStatus.length > 0 && (
                <span className="muted">succeeds on {job.http.expectStatus.join(', ')}</span>
              )}
            </dd>
            <SecretNames label="Secret headers" names={job.http?.secretHeaders} />
          </>
        )}
        <dt>Owner</dt>
        <dd data-fact="owner">
          {job.owner !== null ? (
            <>
              <span className="mono">{job.owner}</span> <span className="muted">plans its runs</span>
            </>
          ) : (
            <>
              — <span className="muted">{ownerNote(job)}</span>
            </>
          )}
        </dd>
        <dt>Runs on</dt>
        <dd>
          group <strong>{job.group}</strong>, {humanize(job.routing)}
        </dd>
        <dt>Policies</dt>
        <dd>
          timeout {formatDuration(job.timeoutMs)} · {job.retries} retr{job.retries === 1 ? 'y' : 'ies'}
          {job.retries > 0 && ` (backoff ${formatDuration(job.retryBackoffMs)}, doubling)`} · concurrency{' '}
          {job.concurrency} · misfire {job.misfire}
        </dd>
      </dl>
    </section>
  );
}

/** A job's secrets by name only: the values are write-only (the API answers "***" for each). */
function SecretNames({ label, names }: { label: string; names: Record<string, string> | undefined }) {
  const list = Object.keys(names ?? {});
  if (list.length === 0) return null;
  return (
    <>
      <dt>{label}</dt>
      <dd className="mono">
        {list.join(' ')} <span className="muted">(set, not shown)</span>
      </dd>
    </>
  );
}
