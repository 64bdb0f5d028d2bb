import { BadRequestException, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import type { Request, Response } from 'express';
import { APP_CONFIG, AppConfig } from '@app/config';
import { AuthRepository } from '@app/persistence';
import { AuditLog } from '../audit/audit-log.service';
import { Authenticator } from './authenticator.service';
import { clearSessionCookies, setSessionCookies } from './cookies';
import { LoginDto, LoginResponse, UserResponse } from './dto/auth.dto';
import { FailureLimiter } from './failure-limiter';
import { AuthedRequest, Principal } from './principal';
import { newCookieValue, sha256, verifyPassword } from './secrets';

/** Dashboard sign-in: a username and password, or an API token, for a session cookie and its CSRF token. */
@Injectable()
export class Sessions {
  constructor(
    private readonly repo: AuthRepository,
    private readonly auth: Authenticator,
    private readonly limiter: FailureLimiter,
    private readonly audit: AuditLog,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async login(dto: LoginDto, req: Request, res: Response): Promise<LoginResponse> {
    const byToken = dto.token !== undefined;
    if (byToken === (dto.username !== undefined || dto.password !== undefined) || (!byToken && !dto.password)) {
      throw new BadRequestException('send {username, password} or {token}');
    }
    const tried = byToken ? null : (dto.username ?? '');
    const attempt = await this.limiter.attempt(req, tried, byToken ? 'token' : 'password');
    let userId: number;
    let viaTokenId: number | null = null;
    if (byToken) {
      const state = await this.auth.byToken(dto.token!);
      if (!state.principal) {
        await attempt.failed(state.failure ?? 'invalid token');
        throw new UnauthorizedException('invalid token');
      }
      userId = state.principal.userId!;
      viaTokenId = state.principal.tokenId;
    } else {
      const user = await this.repo.findUserByName(tried!);
      const ok = await verifyPassword(dto.password!, user?.passwordHash ?? null);
      if (!user || !ok || user.disabled) {
        await attempt.failed('wrong username or password');
        throw new UnauthorizedException('invalid username or password');
      }
      userId = user.id;
    }
    await attempt.succeeded();
    const user = (await this.repo.findUser(userId))!;
    const now = Date.now();
    const ttl = this.config.auth.sessionTtlSeconds;
    const cookie = newCookieValue();
    const csrf = newCookieValue();
    const session = await this.repo.createSession({
      tokenHash: sha256(cookie),
      csrfHash: sha256(csrf),
      userId,
      viaTokenId,
      expiresAt: now + ttl * 1000,
      createdAt: now,
    });
    setSessionCookies(req, res, cookie, csrf, ttl);
    (req as AuthedRequest).principal = { username: user.username } as Principal;
    await this.audit.record(req, 'auth.login', {
      targetType: 'session',
      targetId: session.id,
      detail: byToken ? `with token ${viaTokenId}` : 'with password',
    });
    // Expired sessions go when someone signs in: the table holds live sessions and a day's worth of old ones.
    await this.repo.deleteExpiredSessions(now);
    return { user: UserResponse.of(user), expiresAt: new Date(session.expiresAt).toISOString(), csrfToken: csrf };
  }

  async logout(req: Request, res: Response): Promise<void> {
    const principal = (req as AuthedRequest).principal;
    if (principal?.sessionId != null) {
      await this.repo.deleteSession(principal.sessionId);
      this.auth.forgetAll();
      await this.audit.record(req, 'auth.logout', { targetType: 'session', targetId: principal.sessionId });
    }
    clearSessionCookies(req, res);
  }
}
