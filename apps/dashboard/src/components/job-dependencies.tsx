// A job page's dependencies: the graph around the job, and its parents and children as lists of links.
import type { JobGraphJson, JobJson } from '@app/contract';
import { CONDITION_SHORT, modeSummary } from '../lib/dependency-words';
import { formatDuration } from '../lib/format';
import { href } from '../hooks/router';
import type { Resource } from '../hooks/use-resource';
import { DependencyGraph } from './dependency-graph';
import { ErrorState, Loading } from './states';
import { EnabledBadge } from './status-badge';
import './dependency-graph.css';

export function JobDependencies({ job, graph }: { job: JobJson; graph: Resource<JobGraphJson | undefined> }) {
  const parents = job.dependsOn ?? [];
  const children = job.children ?? [];
  // The graph knows the parents' names and states; a parent it lacks (cut off) is shown by its id.
  const data = graph.data && graph.data.jobId === job.id ? graph.data : undefined;
  const nodes = new Map((data?.nodes ?? []).map((n) => [n.id, n]));

  return (
    <section className="card" aria-labelledby="deps-title" id="dependencies">
      <div className="section-header">
        <h2 id="deps-title">Dependencies</h2>
        {parents.length > 0 && (
          <span className="muted">
            Runs {modeSummary(job.dependencyMode, parents.length)}
            {parents.length > 1 && job.dependencyMode === 'all' && (
              <> (one occasion: the same tick, or runs within {formatDuration(job.dependencyWindowMs)})</>
            )}
            {job.cron ? ', and on its schedule' : ''}.
          </span>
        )}
      </div>
      {graph.error !== undefined && <ErrorState error={graph.error} retry={graph.reload} what="the dependency graph" />}
      {graph.loading && !graph.data && <Loading what="the dependency graph" />}
      {data && <DependencyGraph graph={data} name={job.name} />}
      <div className="dep-lists">
        <div>
          <h3 id="parents-title">Parents</h3>
          {parents.length === 0 ? (
            <p className="muted">None: it runs on its schedule.</p>
          ) : (
            <ul aria-labelledby="parents-title" className="dep-parents">
              {parents.map((p) => {
                const n = nodes.get(p.jobId);
                return (
                  <li key={p.jobId} data-parent={p.jobId}>
                    <a href={href(`/jobs/${p.jobId}`)}>{n?.name ?? `job #${p.jobId}`}</a>{' '}
                    <span className="muted">{CONDITION_SHORT[p.on]}</span>
                    {n && !n.enabled && (
                      <>
                        {' '}
                        <EnabledBadge enabled={false} />
                      </>
                    )}
                  </li>
                );
              })}
            </ul>
          )}
        </div>
        <div>
          <h3 id="children-title">Children</h3>
          {children.length === 0 ? (
            <p className="muted">None: no job waits for this one.</p>
          ) : (
            <ul aria-labelledby="children-title" className="dep-children">
              {children.map((c) => (
                <li key={c.jobId} data-child={c.jobId}>
                  <a href={href(`/jobs/${c.jobId}`)}>{c.name}</a>{' '}
                  <span className="muted">{CONDITION_SHORT[c.on]} of this job</span>
                  {!c.enabled && (
                    <>
                      {' '}
                      <EnabledBadge enabled={false} />
                    </>
                  )}
                </li>
              ))}
            </ul>
          )}
        </div>
      </div>
    </section>
  );
}
