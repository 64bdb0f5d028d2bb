// The shell: navigation, live-update status, who is signed in, and the page for the current hash route; the login
// page alone when no one is.
import { ReactNode, useEffect, useRef } from 'react';
import { href, Route, useRoute } from './hooks/router';
import { useInterval, useLiveMode } from './hooks/live';
import { refreshSession, Session, useCan, useSession } from './hooks/session';
import { useResource } from './hooks/use-resource';
import { api, errorText } from './lib/api';
import { AccountMenu } from './components/account-menu';
import { ErrorBoundary } from './components/error-boundary';
import { Loading } from './components/states';
import { AccountPage } from './pages/account-page';
import { AuditPage } from './pages/audit-page';
import { BrokerPage } from './pages/broker-page';
import { ClusterPage } from './pages/cluster-page';
import { JobDetailPage } from './pages/job-detail-page';
import { JobFormPage } from './pages/job-form-page';
import { JobsPage } from './pages/jobs-page';
import { LoginPage } from './pages/login-page';
import { NotificationsPage } from './pages/notifications-page';
import { RunsPage } from './pages/runs-page';
import { TokensPage } from './pages/tokens-page';
import { UsersPage } from './pages/users-page';

type Section = 'jobs' | 'runs' | 'notifications' | 'cluster' | 'broker' | 'users' | 'audit' | 'account' | 'tokens';

const ADMINS_ONLY = (
  <div className="state state-empty">
    <p className="state-title">This page is for admins.</p>
    <p>
      Your role does not include it. Go to <a href={href('/jobs')}>Jobs</a>.
    </p>
  </div>
);

function page(route: Route, isAdmin: boolean): { section: Section | null; title: string; element: ReactNode } {
  const [first = 'jobs', second, third, fourth] = route.parts;
  const id = Number(second);
  if (first === 'users') return { section: 'users', title: 'Users', element: isAdmin ? <UsersPage /> : ADMINS_ONLY };
  if (first === 'audit')
    return { section: 'audit', title: 'Audit log', element: isAdmin ? <AuditPage route={route} /> : ADMINS_ONLY };
  if (first === 'account') return { section: 'account', title: 'Account', element: <AccountPage /> };
  if (first === 'tokens') return { section: 'tokens', title: 'API tokens', element: <TokensPage /> };
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
  if (first === 'notifications')
    return { section: 'notifications', title: 'Notifications', element: <NotificationsPage route={route} /> };
  if (first === 'cluster') return { section: 'cluster', title: 'Cluster', element: <ClusterPage /> };
  if (first === 'broker') return { section: 'broker', title: 'Broker', element: <BrokerPage /> };
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

/** /api/auth/me could not be read (the dispatcher down): say so, and ask again every 5 s. */
function SessionProblem({ session }: { session: Session }) {
  useInterval(() => {
    if (session.status === 'error') void refreshSession();
  }, 5000);
  if (session.status !== 'error') return null;
  return (
    <span className="health health-down" title={errorText(session.error)}>
      Could not check your session: {errorText(session.error)}
    </span>
  );
}

export function App() {
  const route = useRoute();
  // The login page asks nothing of the server until the form is sent: a stale session cookie sent again would
  // only be refused again.
  if (route.parts[0] === 'login') return <LoginPage next={route.query.get('next')} />;
  return <SignedIn route={route} />;
}

function SignedIn({ route }: { route: Route }) {
  const session = useSession();
  if (session.status === 'loading' || session.status === 'signed-out') return <SessionWait session={session} />;
  return <Shell route={route} session={session} />;
}

/** Before the first answer of /api/auth/me, and after a logout when the address is not the login page's. */
function SessionWait({ session }: { session: Session }) {
  useEffect(() => {
    document.title = 'gocron';
    // Back from the login page without signing in (or signed in in another tab): ask again; a 401 goes back there.
    if (session.status === 'signed-out') void refreshSession();
  }, [session.status]);
  return (
    <main id="main" className="session-wait">
      <Loading what="your session" />
    </main>
  );
}

function Shell({ route, session }: { route: Route; session: Session }) {
  const can = useCan();
  const isAdmin = can('admin');
  const { section, title, element } = page(route, isAdmin);
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
          {nav('notifications', 'Notifications')}
          {nav('cluster', 'Cluster')}
          {nav('broker', 'Broker')}
          {isAdmin && nav('users', 'Users')}
          {isAdmin && nav('audit', 'Audit')}
        </nav>
        <div className="topbar-status">
          <HealthIndicator />
          <SessionProblem session={session} />
          <LiveIndicator />
          <a className="topbar-link" href="/api/docs">
            API
          </a>
          {session.status === 'signed-in' && (
            <AccountMenu me={session.me} current={section === 'account' || section === 'tokens' ? section : null} />
          )}
        </div>
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        <ErrorBoundary resetKey={path}>{element}</ErrorBoundary>
      </main>
    </>
  );
}
