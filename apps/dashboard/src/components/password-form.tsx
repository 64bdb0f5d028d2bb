// A new password, typed twice, and the current one when the server asks for it (a non-admin changing its own).
// Used on the account page and, for an admin setting someone's password, on the users page.
import { FormEvent, useId, useState } from 'react';
import { ApiError, errorText } from '../lib/api';
import { FieldMessages } from './key-value-editor';
import './password-form.css';

/** The API's bounds for a password (POST /api/users, PATCH /api/users/:id). */
const MIN = 8;
const MAX = 1024;

export function PasswordForm({
  askCurrent,
  submitLabel,
  onSubmit,
  onCancel,
}: {
  askCurrent: boolean;
  submitLabel: string;
  onSubmit: (password: string, currentPassword?: string) => Promise<void>;
  onCancel?: () => void;
}) {
  const id = useId();
  const [current, setCurrent] = useState('');
  const [password, setPassword] = useState('');
  const [repeat, setRepeat] = useState('');
  const [problems, setProblems] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const local = [
      password.length < MIN && `The password needs at least ${MIN} characters.`,
      password.length > MAX && `The password can have at most ${MAX} characters.`,
      password !== repeat && 'The two new passwords differ.',
      askCurrent && current === '' && 'Type your current password.',
    ].filter((m): m is string => typeof m === 'string');
    setProblems(local);
    if (local.length) return;
    setBusy(true);
    try {
      await onSubmit(password, askCurrent ? current : undefined);
      setCurrent('');
      setPassword('');
      setRepeat('');
    } catch (err) {
      setProblems(err instanceof ApiError ? err.messages : [errorText(err)]);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="password-form" noValidate onSubmit={(e) => void submit(e)}>
      {askCurrent && (
        <div className="field">
          <label htmlFor={`${id}-current`}>Current password</label>
          <input
            id={`${id}-current`}
            type="password"
            autoComplete="current-password"
            value={current}
            onChange={(e) => setCurrent(e.target.value)}
          />
        </div>
      )}
      <div className="field-row">
        <div className="field">
          <label htmlFor={`${id}-new`}>New password</label>
          <input
            id={`${id}-new`}
            type="password"
            autoComplete="new-password"
            aria-describedby={`${id}-hint`}
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor={`${id}-repeat`}>Repeat new password</label>
          <input
            id={`${id}-repeat`}
            type="password"
            autoComplete="new-password"
            value={repeat}
            onChange={(e) => setRepeat(e.target.value)}
          />
        </div>
      </div>
      <p className="hint" id={`${id}-hint`}>
        At least {MIN} characters.
      </p>
      {problems.length > 0 && (
        <div role="alert">
          <FieldMessages id={`${id}-error`} messages={problems} />
        </div>
      )}
      <div className="actions">
        <button type="submit" className="button button-primary" disabled={busy} aria-busy={busy || undefined}>
          {submitLabel}
        </button>
        {onCancel && (
          <button type="button" className="button" onClick={onCancel}>
            Cancel
          </button>
        )}
      </div>
    </form>
  );
}
