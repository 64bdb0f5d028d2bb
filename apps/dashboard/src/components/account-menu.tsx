// The top bar's right end: who is signed in and with which role (a link to the account page), the tokens page,
// and Log out.
import type { MeJson } from '../lib/auth';
import { api, ApiError, errorText } from '../lib/api';
import { href, navigate } from '../hooks/router';
import { endSession } from '../hooks/session';
import { AsyncButton } from './async-button';
import { useToast } from './toasts';

/** Who is signed in (a link to the account page), their tokens, and the way out. */
export function AccountMenu({ me, current }: { me: MeJson; current: 'account' | 'tokens' | null }) {
  const toast = useToast();
  const logout = async () => {
    try {
      await api.logout();
    } catch (e) {
      // A session already gone is logged out all the same; anything else is worth saying.
      if (!(e instanceof ApiError && e.status === 401)) {
        toast(errorText(e), 'error');
        return;
      }
    }
    endSession();
    navigate(href('/login'));
  };
  if (me.via === 'open')
    return (
      <div className="account-menu">
        <span className="badge badge-warn" title="[auth] enabled = false on this dispatcher: every request is admin.">
          Authentication off
        </span>
      </div>
    );
  return (
    <div className="account-menu">
      <a
        className="topbar-user"
        href={href('/account')}
        title="Your account"
        aria-current={current === 'account' ? 'page' : undefined}
      >
        <span className="topbar-username">{me.username}</span>{' '}
        <span className="badge badge-role" data-role={me.role}>
          {me.role}
        </span>
      </a>
      <a className="topbar-link" href={href('/tokens')} aria-current={current === 'tokens' ? 'page' : undefined}>
        Tokens
      </a>
      <AsyncButton className="button button-quiet" onClick={logout}>
        Log out
      </AsyncButton>
    </div>
  );
}
