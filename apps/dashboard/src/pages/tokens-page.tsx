// API tokens: the caller's (an admin sees everyone's), a new one with its secret shown once, revoking with a
// confirmation.
import { FormEvent, useRef, useState } from 'react';
import { api, ApiError, errorText } from '../lib/api';
import { atLeast, CreatedTokenJson, NewTokenBody, Role, ROLES, TokenJson } from '../lib/auth';
import { formatDateTime } from '../lib/format';
import { useNow } from '../hooks/use-now';
import { useResource } from '../hooks/use-resource';
import { useSession } from '../hooks/session';
import { AsyncButton } from '../components/async-button';
import { useConfirm } from '../components/confirm-dialog';
import { CopyButton } from '../components/copy-button';
import { FieldMessages } from '../components/key-value-editor';
import { RelTime } from '../components/rel-time';
import { Empty, ErrorState, Loading } from '../components/states';
import { useToast } from '../components/toasts';
import './tokens-page.css';

const DAY = 86_400_000;
const EXPIRY: { value: string; label: string; ms?: number }[] = [
  { value: 'never', label: 'Never' },
  { value: '1d', label: 'In 1 day', ms: DAY },
  { value: '7d', label: 'In 7 days', ms: 7 * DAY },
  { value: '30d', label: 'In 30 days', ms: 30 * DAY },
  { value: '90d', label: 'In 90 days', ms: 90 * DAY },
  { value: '365d', label: 'In 1 year', ms: 365 * DAY },
  { value: 'custom', label: 'On a date…' },
];

/** `datetime-local`'s value for an instant, in the browser's zone ("2026-12-02T14:30"). */
function localInput(ms: number): string {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

export function TokensPage() {
  const session = useSession();
  const me = session.status === 'signed-in' ? session.me : null;
  const isAdmin = me?.role === 'admin';
  const tokens = useResource((signal) => api.listTokens(signal), []);
  const users = useResource((signal) => (isAdmin ? api.listUsers(signal) : Promise.resolve([])), [isAdmin]);
  const [created, setCreated] = useState<CreatedTokenJson | null>(null);
  const confirm = useConfirm();
  const toast = useToast();
  const now = useNow();

  const revoke = async (t: TokenJson) => {
    const ok = await confirm({
      title: `Revoke ${t.name}?`,
      body: (
        <p>
          Whatever uses the token <code>{t.prefix}…</code>
          {isAdmin && t.userId !== me?.id ? ` (of ${t.username})` : ''} is refused with 401 from now on.
          {me?.tokenId === t.id && ' You signed in with it: this session ends too.'} This can not be undone.
        </p>
      ),
      confirmLabel: 'Revoke token',
      danger: true,
    });
    if (!ok) return;
    try {
      await api.revokeToken(t.id);
      toast(`Revoked ${t.name}.`);
      if (created?.id === t.id) setCreated(null);
    } catch (e) {
      toast(errorText(e), 'error');
    }
    tokens.reload();
  };

  const list = [...(tokens.data ?? [])].sort((a, b) => b.id - a.id);

  return (
    <>
      <header className="page-header">
        <h1>API tokens</h1>
      </header>
      <p className="muted page-intro">
        Scripts and the REST API sign in with <code>Authorization: Bearer &lt;token&gt;</code>. A token acts as its
        user, with that user&apos;s role or a lower one.{isAdmin && ' As an admin you see the tokens of every user.'}
      </p>

      {created && <NewSecret token={created} onDone={() => setCreated(null)} />}

      {me && me.id !== null && (
        <NewTokenForm
          me={{ id: me.id, role: me.role }}
          users={isAdmin ? (users.data ?? []) : null}
          onCreated={(t) => {
            setCreated(t);
            tokens.reload();
          }}
        />
      )}

      <section className="card" aria-labelledby="tokens-title">
        <h2 id="tokens-title">{isAdmin ? 'All tokens' : 'Your tokens'}</h2>
        {tokens.error !== undefined && <ErrorState error={tokens.error} retry={tokens.reload} what="tokens" />}
        {tokens.loading && !tokens.data && <Loading what="tokens" />}
        {tokens.data && list.length === 0 && (
          <Empty title="No tokens yet.">
            <p>
              {me?.via === 'open'
                ? 'Authentication is off on this dispatcher: no request needs a token.'
                : 'Create one above for a script, a CI job or another service.'}
            </p>
          </Empty>
        )}
        {list.length > 0 && (
          <div className="table-wrap">
            <table className="table responsive table-tokens" aria-busy={tokens.loading}>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  {isAdmin && <th scope="col">User</th>}
                  <th scope="col">Role</th>
                  <th scope="col">Token</th>
                  <th scope="col">Created</th>
                  <th scope="col">Expires</th>
                  <th scope="col">Last used</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.map((t) => {
                  const expired = t.expiresAt !== null && Date.parse(t.expiresAt) <= now;
                  return (
                    <tr key={t.id} data-token={t.name}>
                      <td data-label="Name">
                        <strong>{t.name}</strong>
                        {me?.tokenId === t.id && <span className="badge tokens-current">this session</span>}
                      </td>
                      {isAdmin && <td data-label="User">{t.username}</td>}
                      <td data-label="Role">
                        <span className="badge badge-role" data-role={t.role}>
                          {t.role}
                        </span>
                      </td>
                      <td data-label="Token" className="mono">
                        {t.prefix}…
                      </td>
                      <td data-label="Created">
                        <RelTime iso={t.createdAt} />
                      </td>
                      <td data-label="Expires">
                        {expired ? (
                          <span className="badge badge-off" title={formatDateTime(t.expiresAt)}>
                            expired
                          </span>
                        ) : (
                          <RelTime iso={t.expiresAt} empty="never" />
                        )}
                      </td>
                      <td data-label="Last used">
                        <RelTime iso={t.lastUsedAt} empty="never" />
                      </td>
                      <td className="cell-actions">
                        <AsyncButton
                          className="button button-danger-quiet"
                          aria-label={`Revoke ${t.name}`}
                          onClick={() => revoke(t)}
                        >
                          Revoke
                        </AsyncButton>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </>
  );
}

/** The secret of the token just created: the only time the dispatcher sends it. */
function NewSecret({ token, onDone }: { token: CreatedTokenJson; onDone: () => void }) {
  const secret = useRef<HTMLElement>(null);
  return (
    <section className="card token-secret" aria-labelledby="secret-title" role="region">
      <h2 id="secret-title">Token {token.name} created</h2>
      <p className="token-warning" role="alert">
        Copy it now: it will not be shown again. Whoever holds it acts as {token.username} ({token.role}).
      </p>
      <div className="token-secret-row">
        <code ref={secret} className="block token-secret-value" id="new-token-secret">
          {token.token}
        </code>
        <CopyButton text={token.token} label="Copy token" source={() => secret.current} />
      </div>
      <p className="hint">
        Use it as <code>Authorization: Bearer {token.prefix}…</code>
        {token.expiresAt ? `; it expires ${formatDateTime(token.expiresAt)}.` : '; it does not expire.'}
      </p>
      <button type="button" className="button" onClick={onDone}>
        Done, I have copied it
      </button>
    </section>
  );
}

function NewTokenForm({
  me,
  users,
  onCreated,
}: {
  me: { id: number; role: Role };
  /** Everyone, for an admin (tokens for other users); null for anyone else. */
  users: { id: number; username: string; role: Role; disabled: boolean }[] | null;
  onCreated: (t: CreatedTokenJson) => void;
}) {
  const [name, setName] = useState('');
  const [expiry, setExpiry] = useState('90d');
  const [date, setDate] = useState('');
  const [role, setRole] = useState<Role | ''>('');
  const [userId, setUserId] = useState(me.id);
  const [problems, setProblems] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const owner = users?.find((u) => u.id === userId) ?? { id: me.id, role: me.role };
  const roles = ROLES.filter((r) => atLeast(owner.role, r));

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const preset = EXPIRY.find((x) => x.value === expiry);
    const expiresAt =
      expiry === 'custom'
        ? date
          ? new Date(date).toISOString()
          : undefined
        : preset?.ms && new Date(Date.now() + preset.ms).toISOString();
    const local = [
      name.trim() === '' && 'Give the token a name (what uses it).',
      expiry === 'custom' && !date && 'Pick the date it expires on.',
    ].filter((m): m is string => typeof m === 'string');
    setProblems(local);
    if (local.length) return;
    const body: NewTokenBody = { name: name.trim() };
    if (expiresAt) body.expiresAt = expiresAt;
    if (role && roles.includes(role)) body.role = role;
    if (userId !== me.id) body.userId = userId;
    setBusy(true);
    try {
      const created = await api.createToken(body);
      setName('');
      setRole('');
      onCreated(created);
    } catch (err) {
      setProblems(err instanceof ApiError ? err.messages : [errorText(err)]);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card tokens-new" aria-labelledby="new-token-title">
      <h2 id="new-token-title">New token</h2>
      <form noValidate onSubmit={(e) => void submit(e)}>
        <div className="field-row">
          <div className="field">
            <label htmlFor="token-name">Name</label>
            <input
              id="token-name"
              value={name}
              maxLength={64}
              autoComplete="off"
              placeholder="e.g. deploy script"
              onChange={(e) => setName(e.target.value)}
            />
          </div>
          <div className="field">
            <label htmlFor="token-expiry">Expires</label>
            <select id="token-expiry" value={expiry} onChange={(e) => setExpiry(e.target.value)}>
              {EXPIRY.map((x) => (
                <option key={x.value} value={x.value}>
                  {x.label}
                </option>
              ))}
            </select>
          </div>
          {expiry === 'custom' && (
            <div className="field">
              <label htmlFor="token-expiry-date">Expires on</label>
              <input
                id="token-expiry-date"
                type="datetime-local"
                min={localInput(Date.now() + 60_000)}
                value={date}
                onChange={(e) => setDate(e.target.value)}
              />
            </div>
          )}
          {users && (
            <div className="field">
              <label htmlFor="token-user">For user</label>
              <select id="token-user" value={userId} onChange={(e) => setUserId(Number(e.target.value))}>
                <option value={me.id}>yourself</option>
                {users
                  .filter((u) => u.id !== me.id && !u.disabled)
                  .map((u) => (
                    <option key={u.id} value={u.id}>
                      {u.username} ({u.role})
                    </option>
                  ))}
              </select>
            </div>
          )}
          <div className="field">
            <label htmlFor="token-role">Role</label>
            <select id="token-role" value={role} onChange={(e) => setRole(e.target.value as Role | '')}>
              <option value="">The user&apos;s ({owner.role})</option>
              {roles
                .filter((r) => r !== owner.role)
                .map((r) => (
                  <option key={r} value={r}>
                    {r} only
                  </option>
                ))}
            </select>
          </div>
        </div>
        {problems.length > 0 && (
          <div role="alert">
            <FieldMessages id="token-error" messages={problems} />
          </div>
        )}
        <button type="submit" className="button button-primary" disabled={busy} aria-busy={busy || undefined}>
          Create token
        </button>
      </form>
    </section>
  );
}
