import { ExecutionContext, HttpException, HttpStatus, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  ThrottlerGuard,
  type ThrottlerLimitDetail,
  type ThrottlerModuleOptions,
  type ThrottlerStorage,
} from '@nestjs/throttler';
import type { Request, Response } from 'express';
import type { AppConfig } from '@app/config';
import { LOGIN_ROUTE } from './auth.controllers';
import { Authenticator } from './authenticator.service';
import { clientAddress } from './principal';

/** Sign-in attempts per address per minute, whatever their outcome: each costs a scrypt (CPU). */
export const LOGIN_PER_MINUTE = 30;

/**
 * The API's rate limits (@nestjs/throttler, in memory per dispatcher): `rate_limit` requests per second per
 * credential with a burst of `rate_burst` (a window of burst / rate seconds holding at most `rate_burst`), and
 * {@link LOGIN_PER_MINUTE} sign-ins per address. Anonymous requests count per address.
 */
export function throttlerOptions(config: AppConfig): ThrottlerModuleOptions {
  const { rateLimit, rateBurst } = config.dispatcher;
  const isLogin = (ctx: ExecutionContext) => Reflect.getMetadata(LOGIN_ROUTE, ctx.getHandler()) === true;
  return {
    setHeaders: false,
    throttlers: [
      { name: 'default', limit: rateBurst, ttl: Math.max(1000, Math.ceil((rateBurst / rateLimit) * 1000)) },
      {
        name: 'login',
        limit: LOGIN_PER_MINUTE,
        ttl: 60_000,
        skipIf: (ctx) => !isLogin(ctx),
        // Per address whatever credential the request also carries: a user's many tokens are not many addresses.
        getTracker: (req) => `address:${clientAddress(req as Request)}`,
      },
    ],
  };
}

/**
 * Runs before AccessGuard, on every request (refused ones too): a request counts against the credential it proves
 * (the Authenticator's answer, which AccessGuard then reuses), and against its address when it proves none, so
 * neither forged tokens nor anonymous calls escape the limit.
 */
@Injectable()
export class ApiThrottlerGuard extends ThrottlerGuard {
  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
    reflector: Reflector,
    private readonly auth: Authenticator,
  ) {
    super(options, storage, reflector);
  }

  protected override async getTracker(req: Record<string, unknown>): Promise<string> {
    const request = req as unknown as Request;
    const { principal: p } = await this.auth.resolve(request);
    if (p) return p.tokenId !== null ? `token:${p.tokenId}` : `session:${p.sessionId ?? p.userId}`;
    return `address:${clientAddress(request)}`;
  }

  protected override throwThrottlingException(ctx: ExecutionContext, detail: ThrottlerLimitDetail): Promise<void> {
    const seconds = Math.max(1, Math.ceil(detail.timeToBlockExpire));
    ctx.switchToHttp().getResponse<Response>().setHeader('Retry-After', String(seconds));
    throw new HttpException(
      {
        statusCode: 429,
        message: `too many requests: at most ${detail.limit} per ${Math.round(detail.ttl / 1000)} s; try again in ${seconds} s`,
        error: 'Too Many Requests',
      },
      HttpStatus.TOO_MANY_REQUESTS,
    );
  }
}
