// Loading, error and empty states, the same everywhere.
import type { ReactNode } from 'react';
import { ApiError, errorText } from '../lib/api';

export function Loading({ what }: { what: string }) {
  return (
    <p className="state state-loading" role="status">
      <span className="spinner" aria-hidden="true" /> Loading {what}…
    </p>
  );
}

export function ErrorState({ error, retry, what }: { error: unknown; retry?: () => void; what: string }) {
  const offline = error instanceof ApiError && error.status === 0;
  return (
    <div className="state state-error" role="alert">
      <p>
        <strong>Could not load {what}.</strong> {errorText(error)}
      </p>
      {offline && <p className="muted">The page keeps its last data and tries again on its own.</p>}
      {retry && (
        <button type="button" className="button" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="state state-empty">
      <p className="state-title">{title}</p>
      {children}
    </div>
  );
}
