// The signed-in user's own account: who it is, what its role may do, and its password (set one after a first
// sign-in with the admin token; change it later).
import { api } from '../lib/api';
import { ROLE_HELP } from '../lib/auth';
import { href } from '../hooks/router';
import { refreshSession, useSession } from '../hooks/session';
import { PasswordForm } from '../components/password-form';
import { Empty } from '../components/states';
import { useToast } from '../components/toasts';
import './account-page.css';

export function AccountPage() {
  const session = useSession();
  const toast = useToast();
  if (session.status !== 'signed-in' || session.me.via === 'open' || session.me.id === null)
    return (
      <Empty title="No account to show.">
        <p>
          {session.status === 'signed-in'
            ? 'Authentication is off on this dispatcher ([auth] enabled = false): there are no accounts to sign in to.'
            : 'The dispatcher could not say who you are.'}
        </p>
      </Empty>
    );
  const { me } = session;
  const myId = session.me.id;
  // An admin sets any password, its own included, without the current one; anyone else proves it knows the
  // current one, when there is one (notes/auth-api.md, PATCH /api/users/:id).
  const askCurrent = me.role !== 'admin' && me.hasPassword;

  return (
    <>
      <header className="page-header">
        <h1>Account</h1>
      </header>
      <div className="account-grid">
        <section className="card" aria-labelledby="account-title">
          <h2 id="account-title">{me.username}</h2>
          <dl className="facts">
            <dt>Role</dt>
            <dd>
              <span className="badge badge-role" data-role={me.role}>
                {me.role}
              </span>{' '}
              <span className="muted">{ROLE_HELP[me.role]}</span>
            </dd>
            <dt>Signed in</dt>
            <dd>
              {me.via === 'token'
                ? `with API token #${me.tokenId ?? '?'}`
                : me.tokenId !== null
                  ? `in this browser, with API token #${me.tokenId}`
                  : 'in this browser, with your password'}
            </dd>
            <dt>Password</dt>
            <dd>
              {me.hasPassword ? 'set' : <span className="muted">none: this account signs in with tokens only</span>}
            </dd>
          </dl>
          <p className="hint">
            Scripts use API tokens: <a href={href('/tokens')}>create and revoke them on the Tokens page</a>.
          </p>
        </section>
        <section className="card" aria-labelledby="password-title">
          <h2 id="password-title">{me.hasPassword ? 'Change your password' : 'Set a password'}</h2>
          {!me.hasPassword && (
            <p className="muted">
              With a password, <strong>{me.username}</strong> signs in with its username instead of a token.
            </p>
          )}
          <PasswordForm
            askCurrent={askCurrent}
            submitLabel={me.hasPassword ? 'Change password' : 'Set password'}
            onSubmit={async (password, currentPassword) => {
              await api.updateUser(myId, currentPassword === undefined ? { password } : { password, currentPassword });
              toast(
                me.hasPassword ? 'Password changed.' : `Password set: sign in as ${me.username} with it from now on.`,
              );
              await refreshSession();
            }}
          />
        </section>
      </div>
    </>
  );
}
