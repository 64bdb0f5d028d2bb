// Signing in: a username and password, or an API token (the admin token on a first start). The dispatcher answers
// with the session cookie; the page then goes back to where the 401 came from.
import { FormEvent, useEffect, useRef, useState } from 'react';
import { api, ApiError, errorText } from '../lib/api';
import { returnPath } from '../lib/auth';
import { retryMessage } from '../lib/http-headers';
import { navigate } from '../hooks/router';
import { useNow } from '../hooks/use-now';
import { refreshSession } from '../hooks/session';
import './login-page.css';

type Method = 'password' | 'token';

interface Refusal {
  message: string;
  /** A 429: no new try before this instant (Date.now() milliseconds). */
  retryAt?: number;
}

function refusalOf(e: unknown): Refusal {
  if (!(e instanceof ApiError)) return { message: errorText(e) };
  if (e.status === 429) {
    const message = e.messages.join(' ');
    return { message, retryAt: Date.now() + (e.retryAfter ?? 60) * 1000 };
  }
  return { message: errorText(e) };
}

export function LoginPage({ next }: { next: string | null }) {
  const [method, setMethod] = useState<Method>('password');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const [refusal, setRefusal] = useState<Refusal | null>(null);
  const now = useNow();
  const first = useRef<HTMLInputElement>(null);
  const waitS = refusal?.retryAt ? Math.max(0, Math.ceil((refusal.retryAt - now) / 1000)) : 0;

  useEffect(() => {
    document.title = 'Sign in · gocron';
  }, []);
  useEffect(() => {
    first.current?.focus();
  }, [method]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setRefusal(null);
    try {
      await api.login(method === 'password' ? { username: username.trim(), password } : { token: token.trim() });
      await refreshSession();
      navigate(returnPath(next));
    } catch (err) {
      setRefusal(refusalOf(err));
      setBusy(false);
    }
  };

  const tab = (m: Method, label: string) => (
    <button
      type="button"
      role="tab"
      id={`login-tab-${m}`}
      aria-selected={method === m}
      aria-controls="login-panel"
      tabIndex={method === m ? 0 : -1}
      className={method === m ? 'login-tab selected' : 'login-tab'}
      onClick={() => {
        setMethod(m);
        setRefusal(null);
      }}
      onKeyDown={(e) => {
        if (e.key === 'ArrowLeft' || e.key === 'ArrowRight') {
          const other: Method = m === 'password' ? 'token' : 'password';
          setMethod(other);
          document.getElementById(`login-tab-${other}`)?.focus();
        }
      }}
    >
      {label}
    </button>
  );

  const filled = method === 'password' ? username.trim() !== '' && password !== '' : token.trim() !== '';

  return (
    <main id="main" className="login">
      <div className="login-box">
        <p className="brand login-brand">gocron</p>
        <h1>Sign in</h1>
        <div role="tablist" aria-label="Sign in with" className="login-tabs">
          {tab('password', 'Username and password')}
          {tab('token', 'API token')}
        </div>
        <form
          id="login-panel"
          role="tabpanel"
          aria-labelledby={`login-tab-${method}`}
          className="card login-form"
          onSubmit={(e) => void submit(e)}
        >
          {method === 'password' ? (
            <>
              <div className="field">
                <label htmlFor="login-username">Username</label>
                <input
                  ref={first}
                  id="login-username"
                  name="username"
                  autoComplete="username"
                  autoCapitalize="none"
                  spellCheck={false}
                  value={username}
                  onChange={(e) => setUsername(e.target.value)}
                />
              </div>
              <div className="field">
                <label htmlFor="login-password">Password</label>
                <input
                  id="login-password"
                  name="password"
                  type="password"
                  autoComplete="current-password"
                  value={password}
                  onChange={(e) => setPassword(e.target.value)}
                />
              </div>
            </>
          ) : (
            <div className="field">
              <label htmlFor="login-token">Token</label>
              <input
                ref={first}
                id="login-token"
                name="token"
                type="password"
                className="mono"
                autoComplete="off"
                spellCheck={false}
                placeholder="gct_…"
                aria-describedby="login-token-hint"
                value={token}
                onChange={(e) => setToken(e.target.value)}
              />
              <p className="hint" id="login-token-hint">
                An API token of yours, or the admin token. Signing in with it opens a session in this browser; the token
                itself is not stored here.
              </p>
            </div>
          )}
          {refusal && (
            <div className="login-error" role="alert">
              <p>{refusal.retryAt === undefined ? refusal.message : retryMessage(refusal.message, waitS)}</p>
            </div>
          )}
          <button
            type="submit"
            className="button button-primary login-submit"
            disabled={busy || !filled || waitS > 0}
            aria-busy={busy || undefined}
          >
            Sign in
          </button>
        </form>
        <aside className="login-first" aria-label="First start">
          <p>
            First start: the admin token is in <code>data/admin-token</code> on the dispatcher&apos;s machine (
            <code>cat data/admin-token</code>). Sign in with it on the{' '}
            <button type="button" className="link-inline" onClick={() => setMethod('token')}>
              API token
            </button>{' '}
            tab, then set a password for <strong>admin</strong> on your account page, or create users for your team.
          </p>
          <p className="hint">
            A token set in the configuration (<code>[auth] admin_token</code> or <code>GOCRON_AUTH_ADMIN_TOKEN</code>)
            is used instead of the file.
          </p>
        </aside>
      </div>
    </main>
  );
}
