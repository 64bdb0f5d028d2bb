// Users (admins only): who may sign in and with which role; a new user, a role changed, a password set, an account
// disabled or deleted. The server refuses (409) whatever would leave no enabled admin: its message is shown.
import { FormEvent, Fragment, useState } from 'react';
import { api, ApiError, errorText } from '../lib/api';
import { Role, ROLE_HELP, ROLES, UserChange, UserJson } from '../lib/auth';
import { refreshSession, useSession } from '../hooks/session';
import { useResource } from '../hooks/use-resource';
import { AsyncButton } from '../components/async-button';
import { useConfirm } from '../components/confirm-dialog';
import { FieldMessages } from '../components/key-value-editor';
import { PasswordForm } from '../components/password-form';
import { RelTime } from '../components/rel-time';
import { ErrorState, Loading } from '../components/states';
import { useToast } from '../components/toasts';
import './users-page.css';

export function UsersPage() {
  const session = useSession();
  const myId = session.status === 'signed-in' ? session.me.id : null;
  const users = useResource((signal) => api.listUsers(signal), []);
  const [passwordFor, setPasswordFor] = useState<number | null>(null);
  const confirm = useConfirm();
  const toast = useToast();

  /** A change to one user, reported in a toast; the list is read again either way (a refused change reverts). */
  const change = async (user: UserJson, body: UserChange, done: string) => {
    try {
      await api.updateUser(user.id, body);
      toast(done);
      if (user.id === myId) await refreshSession();
    } catch (e) {
      toast(errorText(e), 'error');
    }
    users.reload();
  };

  const setDisabled = async (user: UserJson, disabled: boolean) => {
    if (disabled) {
      const ok = await confirm({
        title: `Disable ${user.username}?`,
        body: (
          <p>
            It can not sign in or use its tokens until it is enabled again.
            {user.id === myId && ' This is your own account: you will be signed out.'}
          </p>
        ),
        confirmLabel: 'Disable user',
        danger: true,
      });
      if (!ok) return;
    }
    await change(user, { disabled }, disabled ? `Disabled ${user.username}.` : `Enabled ${user.username}.`);
  };

  const remove = async (user: UserJson) => {
    const ok = await confirm({
      title: `Delete ${user.username}?`,
      body: (
        <p>
          Its tokens and sessions go with it; the audit log keeps its name.
          {user.id === myId && ' This is your own account: you will be signed out.'} This can not be undone.
        </p>
      ),
      confirmLabel: 'Delete user',
      danger: true,
    });
    if (!ok) return;
    try {
      await api.deleteUser(user.id);
      toast(`Deleted ${user.username}.`);
      if (user.id === myId) await refreshSession();
    } catch (e) {
      toast(errorText(e), 'error');
    }
    users.reload();
  };

  const list = [...(users.data ?? [])].sort((a, b) => a.username.localeCompare(b.username));

  return (
    <>
      <header className="page-header">
        <h1>Users</h1>
      </header>
      <NewUserForm onCreated={users.reload} />
      <section className="card" aria-labelledby="users-title">
        <h2 id="users-title">All users</h2>
        {users.error !== undefined && <ErrorState error={users.error} retry={users.reload} what="users" />}
        {users.loading && !users.data && <Loading what="users" />}
        {list.length > 0 && (
          <div className="table-wrap">
            <table className="table responsive table-users" aria-busy={users.loading}>
              <thead>
                <tr>
                  <th scope="col">User</th>
                  <th scope="col">Role</th>
                  <th scope="col">Password</th>
                  <th scope="col">State</th>
                  <th scope="col">Created</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.map((u) => (
                  <Fragment key={u.id}>
                    <tr data-user={u.username}>
                      <td data-label="User">
                        <strong>{u.username}</strong>
                        {u.id === myId && <span className="muted"> (you)</span>}
                      </td>
                      <td data-label="Role">
                        <select
                          aria-label={`Role of ${u.username}`}
                          value={u.role}
                          onChange={(e) => {
                            const role = e.target.value as Role;
                            void change(u, { role }, `Changed the role of ${u.username} to ${role}.`);
                          }}
                        >
                          {ROLES.map((r) => (
                            <option key={r} value={r}>
                              {r}
                            </option>
                          ))}
                        </select>
                      </td>
                      <td data-label="Password">
                        {u.hasPassword ? 'set' : <span className="muted">none (tokens only)</span>}
                      </td>
                      <td data-label="State">
                        <span className={`badge ${u.disabled ? 'badge-off' : 'badge-on'}`}>
                          {u.disabled ? 'disabled' : 'enabled'}
                        </span>
                      </td>
                      <td data-label="Created">
                        <RelTime iso={u.createdAt} />
                      </td>
                      <td className="cell-actions">
                        <div className="actions">
                          <button
                            type="button"
                            className="button"
                            aria-label={`Set password of ${u.username}`}
                            aria-expanded={passwordFor === u.id}
                            onClick={() => setPasswordFor(passwordFor === u.id ? null : u.id)}
                          >
                            Set password
                          </button>
                          <AsyncButton
                            aria-label={`${u.disabled ? 'Enable' : 'Disable'} ${u.username}`}
                            onClick={() => setDisabled(u, !u.disabled)}
                          >
                            {u.disabled ? 'Enable' : 'Disable'}
                          </AsyncButton>
                          <AsyncButton
                            className="button button-danger-quiet"
                            aria-label={`Delete ${u.username}`}
                            onClick={() => remove(u)}
                          >
                            Delete
                          </AsyncButton>
                        </div>
                      </td>
                    </tr>
                    {passwordFor === u.id && (
                      <tr className="users-password-row">
                        <td colSpan={6}>
                          <h3>Set the password of {u.username}</h3>
                          <PasswordForm
                            askCurrent={false}
                            submitLabel="Set password"
                            onCancel={() => setPasswordFor(null)}
                            onSubmit={async (password) => {
                              await api.updateUser(u.id, { password });
                              toast(`Password of ${u.username} set.`);
                              setPasswordFor(null);
                              if (u.id === myId) await refreshSession();
                              users.reload();
                            }}
                          />
                        </td>
                      </tr>
                    )}
                  </Fragment>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <dl className="facts users-roles">
          {ROLES.map((r) => (
            <Fragment key={r}>
              <dt>{r}</dt>
              <dd>{ROLE_HELP[r]}</dd>
            </Fragment>
          ))}
        </dl>
      </section>
    </>
  );
}

function NewUserForm({ onCreated }: { onCreated: () => void }) {
  const [username, setUsername] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const [password, setPassword] = useState('');
  const [problems, setProblems] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const toast = useToast();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const name = username.trim();
    const local = [
      !/^[A-Za-z0-9._@-]{1,64}$/.test(name) && 'The username is 1 to 64 letters, digits or . _ @ - (no spaces).',
      password !== '' && password.length < 8 && 'A password needs at least 8 characters (or leave it empty).',
    ].filter((m): m is string => typeof m === 'string');
    setProblems(local);
    if (local.length) return;
    setBusy(true);
    try {
      const user = await api.createUser(password ? { username: name, role, password } : { username: name, role });
      toast(
        user.hasPassword
          ? `Created ${user.username}: it can sign in with its password.`
          : `Created ${user.username}: it signs in with tokens until it has a password.`,
      );
      setUsername('');
      setPassword('');
      onCreated();
    } catch (err) {
      setProblems(err instanceof ApiError ? err.messages : [errorText(err)]);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card users-new" aria-labelledby="new-user-title">
      <h2 id="new-user-title">New user</h2>
      <form noValidate onSubmit={(e) => void submit(e)}>
        <div className="field-row">
          <div className="field">
            <label htmlFor="user-name">Username</label>
            <input
              id="user-name"
              value={username}
              maxLength={64}
              autoComplete="off"
              autoCapitalize="none"
              spellCheck={false}
              onChange={(e) => setUsername(e.target.value)}
            />
          </div>
          <div className="field">
            <label htmlFor="user-role">Role</label>
            <select id="user-role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
              {ROLES.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="user-password">Password (optional)</label>
            <input
              id="user-password"
              type="password"
              autoComplete="new-password"
              aria-describedby="user-password-hint"
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          </div>
        </div>
        <p className="hint" id="user-password-hint">
          Without a password the user signs in with an API token: create one for it on the Tokens page.
        </p>
        {problems.length > 0 && (
          <div role="alert">
            <FieldMessages id="user-error" messages={problems} />
          </div>
        )}
        <button type="submit" className="button button-primary" disabled={busy} aria-busy={busy || undefined}>
          Create user
        </button>
      </form>
    </section>
  );
}
