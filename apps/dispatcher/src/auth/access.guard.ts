import {
  CanActivate,
  ExecutionContext,
  ForbiddenException,
  Inject,
  Injectable,
  Logger,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import { APP_CONFIG, AppConfig } from '@app/config';
import { ACCESS_KEY } from './access.decorator';
import { Authenticator } from './authenticator.service';
import { FailureLimiter } from './failure-limiter';
import { AccessLevel, AuthedRequest, OPEN_PRINCIPAL, Principal, rank } from './principal';

/**
 * Every route's door: the level it declares (@Access), the request's credential (Authenticator), the CSRF header
 * for cookie-authenticated changes, the brute-force limit for refused credentials. 401 without a usable credential,
 * 403 with too low a role or without the CSRF header. A route that declares nothing is refused, never open.
 */
@Injectable()
export class AccessGuard implements CanActivate {
  private readonly logger = new Logger(AccessGuard.name);

  constructor(
    private readonly reflector: Reflector,
    private readonly auth: Authenticator,
    private readonly limiter: FailureLimiter,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    if (ctx.getType() !== 'http') return true;
    const declared = this.reflector.getAllAndOverride<AccessLevel | undefined>(ACCESS_KEY, [
      ctx.getHandler(),
      ctx.getClass(),
    ]);
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    if (declared === undefined) {
      this.logger.error(`${req.method} ${req.path}: the route declares no access level; refused`);
      throw new ForbiddenException('this route declares no access level');
    }
    const level = this.effective(declared);
    if (!this.config.auth.enabled) {
      req.principal = OPEN_PRINCIPAL;
      return true;
    }
    if (level === 'public') return true;
    req.principal = await this.authenticate(req, ctx.switchToHttp().getResponse<Response>());
    const { csrfOk } = await this.auth.resolve(req);
    if (req.principal.via === 'session' && csrfOk === false) {
      throw new ForbiddenException(
        'CSRF token missing or wrong: a signed-in change needs header X-CSRF-Token equal to the gocron_csrf cookie',
      );
    }
    return this.authorize(req, req.principal, level);
  }

  private effective(level: AccessLevel): AccessLevel {
    if (level === 'metrics') return this.config.auth.publicMetrics ? 'public' : 'viewer';
    if (level === 'docs') return this.config.auth.publicDocs ? 'public' : 'viewer';
    return level;
  }

  /** The principal, or a 401 (a 429 while this address is over the failure limit). */
  async authenticate(req: AuthedRequest, res: Response): Promise<Principal> {
    const state = await this.auth.resolve(req);
    if (state.principal) return state.principal;
    res.setHeader('WWW-Authenticate', 'Bearer realm="gocron"');
    if (state.failure !== undefined) {
      // A stale session cookie is routine (it expired, its user signed out): only refused tokens are recorded.
      if (req.headers.authorization !== undefined) await this.limiter.tokenRejected(req, state.failure);
      throw new UnauthorizedException(state.failure);
    }
    throw new UnauthorizedException(
      'authentication required: send Authorization: Bearer <token>, or sign in (POST /api/auth/login)',
    );
  }

  /** The role; throws 403 when it is too low. */
  authorize(req: Request, principal: Principal, level: AccessLevel): boolean {
    if (level !== 'signed-in' && level !== 'public' && rank(principal.role) < rank(level as Principal['role'])) {
      throw new ForbiddenException(
        `${req.method} ${req.path} needs role ${level}; this credential (user ${principal.username}) is ${principal.role}`,
      );
    }
    return true;
  }
}
