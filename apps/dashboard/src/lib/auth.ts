// Who may do what, as the auth API (issue 12) sends it: roles, the signed-in user, users, API tokens, the audit
// log. Roles and audit actions come from @app/contract (one list with the server); the answer shapes mirror the
// server's DTOs the way api-json.ts does for jobs and runs.

import { ROLES, type Role } from '@app/contract';

export { AUDIT_ACTIONS, ROLES, type AuditAction, type Role } from '@app/contract';

/** viewer < operator < admin: true when `role` may do what `need` may. Unknown (null): nothing. */
export function atLeast(role: Role | null | undefined, need: Role): boolean {
  if (!role) return false;
  return ROLES.indexOf(role) >= ROLES.indexOf(need);
}

/** What each role adds, in the words the account and users pages use. */
export const ROLE_HELP: Record<Role, string> = {
  viewer: 'reads jobs, runs and the cluster',
  operator: 'also runs, pauses, resumes and cancels',
  admin: 'also creates, edits and deletes jobs; manages users, tokens and reads the audit log',
};

/** GET /api/auth/me. */
export interface MeJson {
  /** Null only with `via: 'open'`. */
  id: number | null;
  username: string;
  role: Role;
  /** `open`: authentication is off on this dispatcher ([auth] enabled = false); everyone is admin. */
  via: 'session' | 'token' | 'open';
  /** The token this request came with, or the one its session was opened with. */
  tokenId: number | null;
  hasPassword: boolean;
}

export interface UserJson {
  id: number;
  username: string;
  role: Role;
  hasPassword: boolean;
  disabled: boolean;
  createdAt: string;
  updatedAt: string;
}

/** POST /api/auth/login; the cookies come with it. */
export interface LoginJson {
  user: UserJson;
  expiresAt: string;
  csrfToken: string;
}

export type LoginBody = { username: string; password: string } | { token: string };

export interface NewUserBody {
  username: string;
  role: Role;
  password?: string;
}

export interface UserChange {
  role?: Role;
  password?: string;
  disabled?: boolean;
  currentPassword?: string;
}

export interface TokenJson {
  id: number;
  name: string;
  userId: number;
  username: string;
  role: Role;
  /** `gct_` and the next 8 characters of the secret, to tell tokens apart. */
  prefix: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
}

/** POST /api/tokens: the token with its secret, the only answer that carries it. */
export interface CreatedTokenJson extends TokenJson {
  token: string;
}

export interface NewTokenBody {
  name: string;
  expiresAt?: string;
  role?: Role;
  userId?: number;
}

export interface AuditEntryJson {
  id: number;
  at: string;
  actor: string | null;
  /** One of AUDIT_ACTIONS; a newer server may write others, shown as they are. */
  action: string;
  targetType: 'job' | 'run' | 'user' | 'token' | 'session' | null;
  targetId: number | null;
  jobId: number | null;
  address: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  detail: string | null;
}

export interface AuditPageJson {
  items: AuditEntryJson[];
  total: number;
  totalCapped?: boolean;
}

/**
 * Where to go after signing in: the `next` the login page was sent with when it is a dashboard path (`/jobs/3`,
 * `/runs?status=failed`), else the jobs list. Never the login page itself.
 */
export function returnPath(next: string | null | undefined): string {
  if (!next || !next.startsWith('/') || next.startsWith('//')) return '/jobs';
  if (/^\/login(?:[/?]|$)/.test(next)) return '/jobs';
  return next;
}
