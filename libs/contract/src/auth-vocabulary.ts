// Roles and audit actions (CONTRACT.md, Authentication): one list for the server, its database and the dashboard.

/** Roles in increasing order of what they may do. */
export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** What the audit log records (GET /api/audit?action=). */
export const AUDIT_ACTIONS = [
  'job.created',
  'job.updated',
  'job.deleted',
  'job.triggered',
  'job.paused',
  'job.resumed',
  'run.cancelled',
  'user.created',
  'user.updated',
  'user.deleted',
  'token.created',
  'token.revoked',
  'auth.login',
  'auth.login_failed',
  'auth.logout',
  'auth.token_rejected',
  'auth.bootstrap',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];
