// Hash routes (`#/jobs/3`): the dispatcher serves one index.html at `/`, so no server fallback is needed.
import { useMemo, useSyncExternalStore } from 'react';

export interface Route {
  /** Path segments: `#/jobs/3/edit` → ['jobs', '3', 'edit']. */
  parts: string[];
  query: URLSearchParams;
}

const listeners = new Set<() => void>();
const notify = () => listeners.forEach((l) => l());

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  if (listeners.size === 1) window.addEventListener('hashchange', notify);
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0) window.removeEventListener('hashchange', notify);
  };
}

export function parseHash(hash: string): Route {
  const [path, query = ''] = hash.replace(/^#/, '').split('?');
  return { parts: path.split('/').filter(Boolean), query: new URLSearchParams(query) };
}

export function useRoute(): Route {
  const hash = useSyncExternalStore(subscribe, () => window.location.hash);
  return useMemo(() => parseHash(hash), [hash]);
}

/** `#/path?query`, dropping empty query values. */
export function href(path: string, query: Record<string, string | number | undefined> = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') params.set(k, String(v));
  const qs = params.toString();
  return `#${path}${qs ? `?${qs}` : ''}`;
}

export function navigate(to: string): void {
  window.location.hash = to.replace(/^#/, '');
}

/** Changes the URL without a history entry (filters as you type). */
export function replaceRoute(to: string): void {
  window.history.replaceState(window.history.state, '', to);
  notify();
}

/** The current route as a path with its query (`/jobs/3?status=failed`), for coming back to it later. */
export function currentPath(): string {
  return window.location.hash.replace(/^#/, '');
}
