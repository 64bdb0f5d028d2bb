// The signed-in user (GET /api/auth/me), one for the whole app: the header shows it, pages hide what its role may
// not do. A 401 from any call ends it and sends the app to the login page, keeping the route to come back to.
import { useCallback, useSyncExternalStore } from 'react';
import { api, ApiError, onUnauthorized } from '../lib/api';
import { atLeast, MeJson, Role } from '../lib/auth';
import { currentPath, href, navigate, parseHash } from './router';

export type Session =
  | { status: 'loading' }
  /** Signed in; `me.via === 'open'` when authentication is off (everyone is admin). */
  | { status: 'signed-in'; me: MeJson }
  /** Not signed in (a 401, or logged out): the login page is shown or on its way. */
  | { status: 'signed-out' }
  /** /api/auth/me failed otherwise (the dispatcher unreachable): the shell shows, with no role. */
  | { status: 'error'; error: unknown };

let session: Session = { status: 'loading' };
let started = false;
/** Bumped by every change, so that an answer to an older question is dropped. */
let seq = 0;
const listeners = new Set<() => void>();

function set(next: Session): void {
  seq++;
  session = next;
  listeners.forEach((l) => l());
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  if (!started) void refreshSession();
  return () => listeners.delete(listener);
}

/** Asks the server who is signed in; the session keeps showing the old answer until the new one arrives. */
export async function refreshSession(): Promise<void> {
  started = true;
  const asked = seq;
  try {
    const me = await api.me();
    if (asked === seq) set({ status: 'signed-in', me });
  } catch (e) {
    if (asked !== seq) return;
    if (e instanceof ApiError && e.status === 401) return; // the 401 handler below has ended the session
    set({ status: 'error', error: e });
  }
}

/** The session is over (logged out): nothing is shown until someone signs in. */
export function endSession(): void {
  set({ status: 'signed-out' });
}

onUnauthorized(() => {
  endSession();
  const here = currentPath();
  if (parseHash(here).parts[0] === 'login') return;
  navigate(href('/login', { next: here && here !== '/' ? here : undefined }));
});

export function useSession(): Session {
  return useSyncExternalStore(subscribe, () => session);
}

/** `can('operator')`: whether the signed-in user may do what an operator may (nothing while unknown). */
export function useCan(): (need: Role) => boolean {
  const s = useSession();
  const role = s.status === 'signed-in' ? s.me.role : null;
  return useCallback((need: Role) => atLeast(role, need), [role]);
}
