import { HttpException, HttpStatus, Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AuthRepository } from '@app/persistence';
import { AuditLog } from '../audit/audit-log.service';
import { clientAddress } from './principal';

/** Failed sign-ins allowed per username and per address within {@link FAILURE_WINDOW_MS}; then 429. */
export const MAX_FAILURES = 10;
export const FAILURE_WINDOW_MS = 15 * 60_000;
const TOKEN_REJECT_EVERY_MS = 60_000;

/**
 * The brute-force limit on credentials: counted from the audit log's failure records, so it is the same on every
 * dispatcher and survives restarts. While a username or an address is over the limit its attempts answer 429 and
 * are not recorded (the log can not be flooded through this door).
 */
@Injectable()
export class FailureLimiter {
  private readonly lastRejected = new Map<string, number>();

  constructor(
    private readonly repo: AuthRepository,
    private readonly audit: AuditLog,
  ) {}

  /** Throws 429 (with Retry-After) when the username or the request's address is over the limit. */
  async check(req: Request, username: string | null): Promise<void> {
    const now = Date.now();
    const since = now - FAILURE_WINDOW_MS;
    const criteria: Array<{ actor: string } | { address: string }> = [{ address: clientAddress(req) }];
    if (username !== null) criteria.push({ actor: username.slice(0, 64) });
    let until = 0;
    for (const by of criteria) {
      const times = await this.repo.recentFailures(since, by, MAX_FAILURES);
      if (times.length >= MAX_FAILURES) until = Math.max(until, times[MAX_FAILURES - 1] + FAILURE_WINDOW_MS);
    }
    if (until > now) {
      const seconds = Math.max(1, Math.ceil((until - now) / 1000));
      (req.res as Response | undefined)?.setHeader('Retry-After', String(seconds));
      throw new HttpException(
        {
          statusCode: 429,
          message: `too many failed sign-ins from this address or for this user: try again in ${seconds} s`,
          error: 'Too Many Requests',
        },
        HttpStatus.TOO_MANY_REQUESTS,
      );
    }
  }

  /** Records one failed sign-in (after {@link check} let it through). */
  failed(req: Request, actor: string | null, why: string): Promise<void> {
    return this.audit.record(req, 'auth.login_failed', { actor, detail: why });
  }

  /**
   * Records a refused bearer token on an API call: at most one record per address and reason per minute (a script
   * polling with a revoked token must not fill the log). These do not count toward the sign-in limit: a token is
   * 256 random bits, and a scraper left with a revoked one must not lock its address out of signing in.
   */
  async tokenRejected(req: Request, why: string): Promise<void> {
    const key = `${clientAddress(req)} ${why}`;
    const now = Date.now();
    if ((this.lastRejected.get(key) ?? 0) > now - TOKEN_REJECT_EVERY_MS) return;
    if (this.lastRejected.size >= 10_000) this.lastRejected.clear();
    this.lastRejected.set(key, now);
    await this.audit.record(req, 'auth.token_rejected', { actor: null, detail: why });
  }
}
