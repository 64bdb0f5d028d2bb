import { HttpException, HttpStatus, Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AuthRepository } from '@app/persistence';
import { AuditLog } from '../audit/audit-log.service';
import { clientAddress } from './principal';

/** Failed sign-ins allowed per username and per address within {@link FAILURE_WINDOW_MS}; then 429. */
export const MAX_FAILURES = 10;
export const FAILURE_WINDOW_MS = 15 * 60_000;
const TOKEN_REJECT_EVERY_MS = 60_000;

/** One password or token guess let through the limit: say how it ended. */
export interface Attempt {
  /** The guess was right: its record goes (a success is not a failure). */
  succeeded(): Promise<void>;
  /** The guess was wrong: its record stays, counting toward the limit. */
  failed(why: string): Promise<void>;
}

/**
 * The brute-force limit on passwords and sign-in tokens, counted from the audit log's `auth.login_failed` records,
 * so it is the same on every dispatcher and survives restarts. An attempt is recorded as a failure *before* the
 * secret is checked and counted with it, so a burst of parallel guesses can not all pass the check while the first
 * ones are still hashing: at most {@link MAX_FAILURES} guesses per username and per address are ever verified in a
 * window. A guess that turns out right removes its record. Over the limit the attempt answers 429 and leaves no
 * record (the log can not be flooded through this door).
 */
@Injectable()
export class FailureLimiter {
  private readonly lastRejected = new Map<string, number>();

  constructor(
    private readonly repo: AuthRepository,
    private readonly audit: AuditLog,
  ) {}

  /** Lets one guess through, or throws 429 (with Retry-After) when the username or the address is over the limit. */
  async attempt(req: Request, username: string | null, what: string): Promise<Attempt> {
    const id = await this.audit.append(req, 'auth.login_failed', { actor: username, detail: `${what}: checking` });
    try {
      await this.checkWithin(req, username);
    } catch (e) {
      await this.repo.deleteAudit(id);
      throw e;
    }
    return {
      succeeded: () => this.repo.deleteAudit(id),
      failed: (why) => this.repo.updateAuditDetail(id, `${what}: ${why}`.slice(0, 1024)),
    };
  }

  /** 429 when this attempt (already recorded) makes more than MAX_FAILURES in the window for either criterion. */
  private async checkWithin(req: Request, username: string | null): Promise<void> {
    const now = Date.now();
    const since = now - FAILURE_WINDOW_MS;
    const criteria: Array<{ actor: string } | { address: string }> = [{ address: clientAddress(req) }];
    if (username !== null) criteria.push({ actor: username.slice(0, 64) });
    let until = 0;
    for (const by of criteria) {
      const times = await this.repo.recentFailures(since, by, MAX_FAILURES + 1);
      // times includes this attempt: over the limit when it is the (MAX + 1)th; the next one passes once the
      // MAX-th newest of the others has left the window.
      if (times.length > MAX_FAILURES) until = Math.max(until, times[MAX_FAILURES] + FAILURE_WINDOW_MS);
    }
    if (until <= now) return;
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
