import { Injectable, Logger } from '@nestjs/common';
import type { Request } from 'express';
import { LogThrottle } from '@app/common';
import { AuthRepository, SessionOwner, TokenOwner } from '@app/persistence';
import { CSRF_COOKIE, readCookies, repeatedCookie, SESSION_COOKIE } from './cookies';
import { AuthedRequest, AuthState, lesserRole, Principal } from './principal';
import { sameSecret, sha256 } from './secrets';

/**
 * How long a dispatcher reuses what it read of a credential. A token revoked, a user disabled or demoted on this
 * dispatcher takes effect at once here (forgetAll) and within this long on the others.
 */
export const CREDENTIAL_CACHE_MS = 2000;
const CACHE_MAX = 10_000;
/** last_used_at is written at most this often per token. */
const TOUCH_EVERY_MS = 60_000;

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

type Lookup = { kind: 'token'; owner: TokenOwner | null } | { kind: 'session'; owner: SessionOwner | null };

/**
 * Turns a request's credential (a bearer token or the dashboard's session cookie) into a {@link Principal}, or into
 * the reason it is no good. Reads are cached for {@link CREDENTIAL_CACHE_MS}; only hashes are looked up.
 */
@Injectable()
export class Authenticator {
  private readonly logger = new Logger(Authenticator.name);
  private readonly touchFailures = new LogThrottle((m) => this.logger.warn(m));
  private readonly cache = new Map<string, { lookup: Lookup; until: number }>();

  constructor(private readonly repo: AuthRepository) {}

  /** The request's auth state, computed once per request. */
  resolve(req: Request): Promise<AuthState> {
    const r = req as AuthedRequest;
    r.gocronAuth ??= this.compute(r);
    return r.gocronAuth;
  }

  /**
   * Whether the request's credential still holds now (read afresh, through the cache): for a long-lived request,
   * an event stream, that must end when its token is revoked or its user disabled.
   */
  async stillValid(req: Request): Promise<boolean> {
    if ((req as AuthedRequest).principal?.via === 'open') return true;
    return (await this.compute(req)).principal !== undefined;
  }

  /** Drops every cached credential: after a revocation, a password change, a user's role or state changing. */
  forgetAll(): void {
    this.cache.clear();
  }

  private async compute(req: Request): Promise<AuthState> {
    const header = req.headers.authorization;
    if (header !== undefined) {
      const m = /^Bearer +([\x21-\x7e]{1,512})$/i.exec(header.trim());
      if (!m) return { failure: 'Authorization: expected "Bearer <token>"' };
      return this.byToken(m[1]);
    }
    const cookies = readCookies(req);
    const session = cookies[SESSION_COOKIE];
    if (session === undefined) return {};
    // Another site on this host (another port, a sibling name) can set a second one: use neither.
    if (repeatedCookie(req, SESSION_COOKIE) || repeatedCookie(req, CSRF_COOKIE)) {
      return { failure: 'more than one gocron_session or gocron_csrf cookie: clear the cookies and sign in again' };
    }
    return this.bySession(session, req, cookies[CSRF_COOKIE]);
  }

  /** The principal of an API token, or why it is refused. */
  async byToken(token: string): Promise<AuthState> {
    const lookup = await this.lookup(`t:${sha256(token)}`, async (hash) => ({
      kind: 'token',
      owner: await this.repo.tokenOwner(hash),
    }));
    const owner = lookup.kind === 'token' ? lookup.owner : null;
    if (!owner) return { failure: 'invalid token' };
    const now = Date.now();
    if (owner.token.expiresAt !== null && owner.token.expiresAt <= now) return { failure: 'token expired' };
    if (owner.user.disabled) return { failure: 'user disabled' };
    this.touch(owner, now);
    return {
      principal: {
        userId: owner.user.id,
        username: owner.user.username,
        role: lesserRole(owner.user.role, owner.token.role),
        via: 'token',
        tokenId: owner.token.id,
        sessionId: null,
        hasPassword: owner.user.passwordHash !== null,
      },
    };
  }

  private async bySession(value: string, req: Request, csrfCookie: string | undefined): Promise<AuthState> {
    const lookup = await this.lookup(`s:${sha256(value)}`, async (hash) => ({
      kind: 'session',
      owner: await this.repo.sessionOwner(hash),
    }));
    const owner = lookup.kind === 'session' ? lookup.owner : null;
    const now = Date.now();
    if (!owner || owner.session.expiresAt <= now) return { failure: 'session expired or signed out: sign in again' };
    if (owner.user.disabled) return { failure: 'user disabled' };
    const { token } = owner;
    if (owner.session.viaTokenId !== null && (!token || (token.expiresAt !== null && token.expiresAt <= now))) {
      return { failure: 'the token this session was opened with is revoked or expired: sign in again' };
    }
    const principal: Principal = {
      userId: owner.user.id,
      username: owner.user.username,
      role: token ? lesserRole(owner.user.role, token.role) : owner.user.role,
      via: 'session',
      tokenId: token?.id ?? null,
      sessionId: owner.session.id,
      hasPassword: owner.user.passwordHash !== null,
    };
    return { principal, csrfOk: !UNSAFE.has(req.method) || this.csrfMatches(req, csrfCookie, owner.session.csrfHash) };
  }

  /** X-CSRF-Token equals the gocron_csrf cookie, and both are the value this session was given at sign-in. */
  private csrfMatches(req: Request, cookie: string | undefined, csrfHash: string): boolean {
    const header = req.headers['x-csrf-token'];
    if (typeof header !== 'string' || cookie === undefined) return false;
    return sameSecret(header, cookie) && sameSecret(sha256(header), csrfHash);
  }

  private async lookup(key: string, read: (hash: string) => Promise<Lookup>): Promise<Lookup> {
    const now = Date.now();
    const hit = this.cache.get(key);
    if (hit && hit.until > now) return hit.lookup;
    const lookup = await read(key.slice(2));
    // Only credentials that resolved are kept: a stream of forged ones can not push the good ones out.
    if (lookup.owner) {
      if (this.cache.size >= CACHE_MAX) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(key, { lookup, until: now + CREDENTIAL_CACHE_MS });
    }
    return lookup;
  }

  private touch(owner: TokenOwner, now: number): void {
    const { token } = owner;
    if (token.lastUsedAt !== null && now - token.lastUsedAt < TOUCH_EVERY_MS) return;
    token.lastUsedAt = now;
    this.repo
      .touchToken(token.id, now)
      .catch((e: unknown) => this.touchFailures.warn('touch', `last_used_at: ${String(e)}`));
  }
}
