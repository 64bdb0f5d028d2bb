import { applyDecorators, SetMetadata } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCookieAuth,
  ApiExtension,
  ApiForbiddenResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { AccessLevel } from './principal';
import { SESSION_COOKIE } from './cookies';

export const ACCESS_KEY = 'gocron:access';

/**
 * Who may call this route. Every route declares it: AccessGuard refuses a route without one (and a test walks the
 * route table for it). Shown in the OpenAPI document as `x-gocron-access`.
 */
export function Access(level: AccessLevel): MethodDecorator {
  const docs =
    level === 'public'
      ? []
      : [
          ApiBearerAuth(),
          ApiCookieAuth(SESSION_COOKIE),
          ApiUnauthorizedResponse({ description: 'no credentials, or an invalid, expired or revoked one' }),
          ApiForbiddenResponse({
            description: `needs ${level}; or a cookie-authenticated change without X-CSRF-Token`,
          }),
        ];
  return applyDecorators(SetMetadata(ACCESS_KEY, level), ApiExtension('x-gocron-access', level), ...docs);
}
