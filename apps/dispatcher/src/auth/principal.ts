import type { Request } from 'express';
import { Role, ROLES } from '@app/persistence';

/** Who a request acts as. */
export interface Principal {
  userId: number | null;
  username: string;
  role: Role;
  /** `open`: [auth] enabled = false, every request is admin. */
  via: 'token' | 'session' | 'open';
  tokenId: number | null;
  sessionId: number | null;
  hasPassword: boolean;
}

/** Who may call a route: a role, anyone signed in, anyone; `metrics`/`docs` follow [auth] public_metrics/public_docs. */
export type AccessLevel = Role | 'signed-in' | 'public' | 'metrics' | 'docs';

export function rank(role: Role): number {
  return ROLES.indexOf(role);
}

/** The lower of two roles: a token scoped down, a user demoted after the token was made. */
export function lesserRole(a: Role, b: Role): Role {
  return rank(a) <= rank(b) ? a : b;
}

export const OPEN_PRINCIPAL: Principal = {
  userId: null,
  username: 'anonymous (auth disabled)',
  role: 'admin',
  via: 'open',
  tokenId: null,
  sessionId: null,
  hasPassword: false,
};

/** What the auth steps leave on a request. */
export interface AuthState {
  principal?: Principal;
  /** The credential was there but no good: why (never which part of a secret was wrong). */
  failure?: string;
  /** Cookie-authenticated: state changes need the CSRF header. */
  csrfOk?: boolean;
}

export type AuthedRequest = Request & { gocronAuth?: Promise<AuthState>; principal?: Principal };

/** The client's address as the socket saw it (no X-Forwarded-For: nothing here vouches for a proxy). */
export function clientAddress(req: Request): string {
  return (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '').slice(0, 64);
}
