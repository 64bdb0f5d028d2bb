import { ExecutionContext, HttpException, HttpStatus, Injectable } from '@nestjs/common';
import type { ThrottlerModuleOptions } from '@nestjs/throttler';
import { ThrottlerGuard } from '@nestjs/throttler';
import type { ThrottlerLimitDetail } from '@nestjs/throttler';
import type { Request, Response } from 'express';
import type { AppConfig } from '@app/config';
import { LOGIN_ROUTE } from './auth.controllers';
import { AuthedRequest, clientAddress } from './principal';

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
      { name: 'login', limit: LOGIN_PER_MINUTE, ttl: 60_000, skipIf: (ctx) => !isLogin(ctx) },
    ],
  };
}

/** Runs after AccessGuard, so a request is counted against the credential it proved, not one it merely sent. */
@Injectable()
export class ApiThrottlerGuard extends ThrottlerGuard {
  protected override getTracker(req: Record<string, unknown>): Promise<string> {
    const p = (req as unknown as AuthedRequest).principal;
    if (p && p.via !== 'open') {
      return Promise.resolve(p.tokenId !== null ? `token:${p.tokenId}` : `session:${p.sessionId ?? p.userId}`);
    }
    return Promise.resolve(`address:${clientAddress(req as unknown as Request)}`);
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
