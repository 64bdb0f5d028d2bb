import { Injectable, Logger } from '@nestjs/common';
import type { Request } from 'express';
import type { AuditAction } from '@app/contract';
import { AuthRepository, NewAudit } from '@app/persistence';
import { AuthedRequest, clientAddress } from '../auth/principal';
import { maskNotifyUrl } from '../notifications/notify-settings';

export { AUDIT_ACTIONS, type AuditAction } from '@app/contract';

export interface AuditFacts {
  targetType?: 'job' | 'run' | 'user' | 'token' | 'session';
  targetId?: number | null;
  jobId?: number | null;
  before?: unknown;
  after?: unknown;
  detail?: string;
  /** Who, when the request has no principal (a failed sign-in: the username tried). */
  actor?: string | null;
}

/** Header names whose values are credentials: masked wherever a job is recorded. */
const SECRET_HEADER = /^(authorization|proxy-authorization|cookie|x-api-key)$/i;
/** Environment variable names that usually hold secrets: masked in the audit log too. */
const SECRET_ENV = /pass|secret|token|key|credential|auth/i;
export const MASK = '***';

/**
 * A job as the audit log keeps it: secret values masked (`secretEnv`, `http.secretHeaders`, credential headers, and
 * env variables named like secrets). Works on the API's job shape; anything else passes through.
 */
export function maskJob(job: unknown): unknown {
  if (typeof job !== 'object' || job === null) return job;
  const out: Record<string, unknown> = { ...(job as Record<string, unknown>) };
  const maskAll = (o: unknown) =>
    o && typeof o === 'object' ? Object.fromEntries(Object.keys(o).map((k) => [k, MASK])) : o;
  const maskSome = (o: unknown, re: RegExp) =>
    o && typeof o === 'object'
      ? Object.fromEntries(Object.entries(o as Record<string, unknown>).map(([k, v]) => [k, re.test(k) ? MASK : v]))
      : o;
  if ('env' in out) out.env = maskSome(out.env, SECRET_ENV);
  if ('secretEnv' in out) out.secretEnv = maskAll(out.secretEnv);
  // Masked by the API already; masked here again, so that no caller can record a notification URL in clear.
  if (out.notify && typeof out.notify === 'object') {
    const notify = { ...(out.notify as Record<string, unknown>) };
    for (const field of ['webhook', 'slack']) {
      if (typeof notify[field] === 'string') notify[field] = maskNotifyUrl(notify[field]);
    }
    out.notify = notify;
  }
  if (out.http && typeof out.http === 'object') {
    const http = { ...(out.http as Record<string, unknown>) };
    if ('headers' in http) http.headers = maskSome(http.headers, SECRET_HEADER);
    if (typeof http.url === 'string') http.url = maskUrl(http.url);
    if ('secretHeaders' in http) http.secretHeaders = maskAll(http.secretHeaders);
    out.http = http;
  }
  return out;
}

/** A URL's password (`user:pass@`) and query values named like secrets (`?token=`), masked; anything else as is. */
export function maskUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return url;
  }
  if (u.password) u.password = MASK;
  for (const key of [...u.searchParams.keys()]) if (SECRET_ENV.test(key)) u.searchParams.set(key, MASK);
  return u.toString();
}

/**
 * The audit log: who changed, triggered, paused, resumed, cancelled or deleted what, sign-ins and refused
 * credentials. A record is written after the change it describes succeeded; a failure to write it is logged (the
 * change stands: the scheduler's own state is the ledger, not this log).
 */
@Injectable()
export class AuditLog {
  private readonly logger = new Logger(AuditLog.name);

  constructor(private readonly repo: AuthRepository) {}

  /** Records what the request did; `req` null: the dispatcher itself (first-start bootstrap). */
  async record(req: Request | null, action: AuditAction, facts: AuditFacts = {}): Promise<void> {
    try {
      await this.repo.appendAudit(this.entry(req, action, facts));
    } catch (e) {
      this.logger.error({ msg: 'audit record not written', action, error: String(e) });
    }
  }

  /** Writes the record now and answers its id, or throws: for a record something else depends on (sign-in limit). */
  append(req: Request | null, action: AuditAction, facts: AuditFacts = {}): Promise<number> {
    return this.repo.appendAudit(this.entry(req, action, facts));
  }

  private entry(req: Request | null, action: AuditAction, facts: AuditFacts): NewAudit {
    const principal = req ? (req as AuthedRequest).principal : { username: 'system' };
    const entry: NewAudit = {
      at: Date.now(),
      actor: (facts.actor !== undefined ? facts.actor : (principal?.username ?? null))?.slice(0, 64) ?? null,
      action,
      targetType: facts.targetType ?? null,
      targetId: facts.targetId ?? null,
      jobId: facts.jobId ?? null,
      address: req ? clientAddress(req) : '',
      beforeJson: facts.before === undefined ? null : JSON.stringify(facts.before),
      afterJson: facts.after === undefined ? null : JSON.stringify(facts.after),
      detail: facts.detail?.slice(0, 1024) ?? null,
    };
    return entry;
  }
}
