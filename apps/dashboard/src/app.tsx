// The shell: navigation, live-update status, and the page for the current hash route.
import { ReactNode, useEffect, useRef } from 'react';
import { href, Route, useRoute } from './hooks/router';
import { useInterval, useLiveMode } from './hooks/live';
import { useResource } from './hooks/use-resource';
import { api } from './lib/api';
import { ErrorBoundary } from './components/error-boundary';
import { ClusterPage } from './pages/cluster-page';
import { JobDetailPage } from './pages/job-detail-page';
import { JobFormPage } from './pages/job-form-page';
import { JobsPage } from './pages/jobs-page';
import { RunsPage } from './pages/runs-page';

type Section = 'jobs' | 'runs' | 'cluster';

function page(route: Route): { section: Section | null; title: string; element: ReactNode } {
  const [first = 'jobs', second, third, fourth] = route.parts;
  const id = Number(second);
  if (first === 'jobs' && second === 'new') return { section: 'jobs', title: 'New job', element: <JobFormPage /> };
  if (first === 'jobs' && Number.isInteger(id) && id > 0) {
    if (third === 'edit') return { section: 'jobs', title: 'Edit job', element: <JobFormPage jobId={id} /> };
    const runId = third === 'runs' && Number(fourth) > 0 ? Number(fourth) : undefined;
    return {
      section: 'jobs',
      title: `Job ${id}`,
      element: <JobDetailPage key={id} jobId={id} runId={runId} route={route} />,
    };
  }
  if (first === 'jobs' && second === undefined)
    return { section: 'jobs', title: 'Jobs', element: <JobsPage route={route} /> };
  if (first === 'runs') return { section: 'runs', title: 'Runs', element: <RunsPage route={route} /> };
  if (first === 'cluster') return { section: 'cluster', title: 'Cluster', element: <ClusterPage /> };
  return {
    section: null,
    title: 'Not found',
    element: (
      <div className="state state-empty">
        <h1>Nothing here</h1>
        <p>
          This address names no page. Go to <a href={href('/jobs')}>Jobs</a>.
        </p>
      </div>
    ),
  };
}

function LiveIndicator() {
  const mode = useLiveMode();
  const text = { live: 'Live', polling: 'Polling every 5 s', connecting: 'Connecting…' }[mode];
  const title = {
    live: 'Changes arrive as they happen (server-sent events).',
    polling: 'The event stream is unavailable: the page looks for changes every 5 seconds.',
    connecting: 'Opening the event stream…',
  }[mode];
  return (
    <span className={`live live-${mode}`} title={title} data-live={mode}>
      <span className="dot" aria-hidden="true" />
      {text}
    </span>
  );
}

function HealthIndicator() {
  const health = useResource((signal) => api.health(signal), []);
  useInterval(health.reload, 15_000);
  if (health.error !== undefined)
    return (
      <a className="health health-down" href={href('/cluster')}>
        Dispatcher unreachable
      </a>
    );
  if (!health.data || health.data.status === 'ok') return null;
  const bad = Object.entries(health.data.checks)
    .filter(([, c]) => c.status !== 'ok')
    .map(([name, c]) => `${name}: ${c.detail}`)
    .join('; ');
  return (
    <a className="health health-degraded" href={href('/cluster')} title={bad}>
      Degraded: {bad}
    </a>
  );
}

export function App() {
  const route = useRoute();
  const { section, title, element } = page(route);
  const main = useRef<HTMLElement>(null);
  const path = route.parts.join('/');
  const first = useRef(true);

  useEffect(() => {
    document.title = `${title} · gocron`;
  }, [title]);
  // A new page: move focus to it, as a full page load would (screen readers announce the new content).
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    main.current?.focus({ preventScroll: true });
    window.scrollTo(0, 0);
  }, [path]);

  const nav = (target: Section, label: string) => (
    <a href={href(`/${target}`)} aria-current={section === target ? 'page' : undefined}>
      {label}
    </a>
  );

  return (
    <>
      <a
        className="skip-link"
        href="#main"
        onClick={(e) => {
          e.preventDefault();
          main.current?.focus();
        }}
      >
        Skip to content
      </a>
      <header className="topbar">
        <a className="brand" href={href('/jobs')}>
          gocron
        </a>
        <nav aria-label="Main">
          {nav('jobs', 'Jobs')}
          {nav('runs', 'Runs')}
          {nav('cluster', 'Cluster')}
        </nav>
        <div className="topbar-status">
          <HealthIndicator />
          <LiveIndicator />
          <a className="topbar-link" href="/api/docs">
            API
          </a>
        </div>
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        <ErrorBoundary resetKey={path}>{element}</ErrorBoundary>
      </main>
    </>
  );
}
