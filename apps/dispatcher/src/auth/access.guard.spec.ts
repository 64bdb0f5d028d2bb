import { ExecutionContext, ForbiddenException, HttpException, Logger, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Response } from 'express';
import type { AppConfig } from '@app/config';
import { Access } from './access.decorator';
import { AccessGuard } from './access.guard';
import type { Authenticator } from './authenticator.service';
import type { FailureLimiter } from './failure-limiter';
import { AccessLevel, AuthedRequest, AuthState, OPEN_PRINCIPAL, Principal } from './principal';

/** One handler per level, as the decorator leaves them; `undeclared` has none. */
class Routes {
  @Access('public') public() {}
  @Access('viewer') viewer() {}
  @Access('operator') operator() {}
  @Access('admin') admin() {}
  @Access('signed-in') signedIn() {}
  @Access('metrics') metrics() {}
  @Access('docs') docs() {}
  undeclared() {}
}
type RouteName = keyof Routes;
/** What the guard did: let the request through (`ok`), or threw `error`. */
type Outcome = { ok?: boolean; error?: unknown };

const principal = (role: Principal['role'], via: Principal['via'] = 'token'): Principal => ({
  userId: 3,
  username: 'alice',
  role,
  via,
  tokenId: via === 'token' ? 8 : null,
  sessionId: via === 'session' ? 5 : null,
  hasPassword: true,
});

function setup(auth: Partial<AppConfig['auth']> = {}) {
  const config = {
    auth: { enabled: true, publicMetrics: true, publicDocs: true, ...auth },
  } as AppConfig;
  let state: AuthState = {};
  const resolve = jest.fn((req: AuthedRequest) => (req.gocronAuth ??= Promise.resolve(state)));
  const tokenRejected = jest.fn(() => Promise.resolve());
  const guard = new AccessGuard(
    new Reflector(),
    { resolve } as unknown as Authenticator,
    { tokenRejected } as unknown as FailureLimiter,
    config,
  );
  /** Runs the guard for `route` with `state` as the request's credential; answers the request and response. */
  async function call(
    route: RouteName,
    credential: AuthState,
    req: { method?: string; path?: string; headers?: Record<string, string> } = {},
  ) {
    state = credential;
    const request = { method: 'GET', path: `/api/${route}`, headers: {}, ...req } as unknown as AuthedRequest;
    const headers: Record<string, string> = {};
    const response = { setHeader: (k: string, v: string) => (headers[k] = v) } as unknown as Response;
    const ctx = {
      getType: () => 'http',
      getHandler: () => Routes.prototype[route],
      getClass: () => Routes,
      switchToHttp: () => ({ getRequest: () => request, getResponse: () => response }),
    } as unknown as ExecutionContext;
    const outcome = await guard.canActivate(ctx).then(
      (ok): Outcome => ({ ok }),
      (error: unknown): Outcome => ({ error }),
    );
    return { ...outcome, request, headers };
  }
  return { call, resolve, tokenRejected };
}

const status = (r: { error?: unknown }) => (r.error instanceof HttpException ? r.error.getStatus() : r.error);
const message = (r: { error?: unknown }) => (r.error as HttpException).message;

describe('AccessGuard', () => {
  it('refuses a route that declares no access level, whatever the credential, auth on or off', async () => {
    const logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    for (const auth of [{}, { enabled: false }]) {
      const { call } = setup(auth);
      for (const credential of [{}, { principal: principal('admin') }]) {
        const r = await call('undeclared', credential);
        expect(r.error).toBeInstanceOf(ForbiddenException);
        expect(message(r)).toBe('this route declares no access level');
      }
    }
    expect(logged).toHaveBeenCalledTimes(4);
    expect(logged).toHaveBeenCalledWith('GET /api/undeclared: the route declares no access level; refused');
    logged.mockRestore();
  });

  it('lets anyone through a public route without reading a credential', async () => {
    const { call, resolve } = setup();
    const r = await call('public', {}, { method: 'POST' });
    expect(r).toMatchObject({ ok: true });
    expect(r.request.principal).toBeUndefined();
    expect(resolve).not.toHaveBeenCalled();
  });

  it('answers 401 with WWW-Authenticate when there is no credential', async () => {
    const { call, tokenRejected } = setup();
    for (const route of ['viewer', 'operator', 'admin', 'signed-in'] as const) {
      const r = await call(route === 'signed-in' ? 'signedIn' : route, {});
      expect(r.error).toBeInstanceOf(UnauthorizedException);
      expect(r.headers['WWW-Authenticate']).toBe('Bearer realm="gocron"');
      expect(message(r)).toMatch(/^authentication required: send Authorization: Bearer <token>/);
    }
    expect(tokenRejected).not.toHaveBeenCalled();
  });

  it('answers 401 with the reason for a refused token, and records it; a stale session cookie is not recorded', async () => {
    const { call, tokenRejected } = setup();
    const token = await call('viewer', { failure: 'token expired' }, { headers: { authorization: 'Bearer gct_x' } });
    expect([status(token), message(token), token.headers['WWW-Authenticate']]).toEqual([
      401,
      'token expired',
      'Bearer realm="gocron"',
    ]);
    expect(tokenRejected).toHaveBeenCalledTimes(1);
    expect(tokenRejected).toHaveBeenCalledWith(token.request, 'token expired');
    const cookie = await call(
      'viewer',
      { failure: 'session expired or signed out: sign in again' },
      { headers: { cookie: 'gocron_session=abc' } },
    );
    expect([status(cookie), message(cookie)]).toEqual([401, 'session expired or signed out: sign in again']);
    expect(tokenRejected).toHaveBeenCalledTimes(1);
  });

  it('answers 403 naming the route, the role it needs and the one the credential has', async () => {
    const { call } = setup();
    const r = await call(
      'operator',
      { principal: principal('viewer') },
      { method: 'POST', path: '/api/jobs/4/trigger' },
    );
    expect(r.error).toBeInstanceOf(ForbiddenException);
    expect(message(r)).toBe('POST /api/jobs/4/trigger needs role operator; this credential (user alice) is viewer');
    expect(status(await call('admin', { principal: principal('operator') }))).toBe(403);
    expect(status(await call('viewer', { principal: principal('viewer') }))).toBeUndefined();
  });

  it('orders the roles viewer < operator < admin; signed-in takes any of them', async () => {
    const { call } = setup();
    const levels: RouteName[] = ['viewer', 'operator', 'admin', 'signedIn'];
    const allowed = (role: Principal['role']) =>
      Promise.all(levels.map(async (l) => [l, (await call(l, { principal: principal(role) })).ok === true]));
    expect(Object.fromEntries(await allowed('viewer'))).toEqual({
      viewer: true,
      operator: false,
      admin: false,
      signedIn: true,
    });
    expect(Object.fromEntries(await allowed('operator'))).toEqual({
      viewer: true,
      operator: true,
      admin: false,
      signedIn: true,
    });
    expect(Object.fromEntries(await allowed('admin'))).toEqual({
      viewer: true,
      operator: true,
      admin: true,
      signedIn: true,
    });
  });

  it('leaves the principal on the request', async () => {
    const { call } = setup();
    const p = principal('operator');
    expect((await call('viewer', { principal: p })).request.principal).toBe(p);
  });

  it('refuses a cookie-authenticated change without the CSRF header, even on a route the role allows', async () => {
    const { call } = setup();
    const admin = principal('admin', 'session');
    const refused = await call('operator', { principal: admin, csrfOk: false }, { method: 'POST' });
    expect(refused.error).toBeInstanceOf(ForbiddenException);
    expect(message(refused)).toMatch(/^CSRF token missing or wrong: .*X-CSRF-Token.*gocron_csrf/);
    // Its own check comes first: a session with too low a role hears about the CSRF header, not its role.
    expect(message(await call('admin', { principal: principal('viewer', 'session'), csrfOk: false }))).toMatch(
      /^CSRF token missing/,
    );
    expect(await call('operator', { principal: admin, csrfOk: true }, { method: 'POST' })).toMatchObject({ ok: true });
    // A bearer token needs no CSRF header.
    expect(await call('operator', { principal: principal('admin') }, { method: 'POST' })).toMatchObject({ ok: true });
  });

  it('with [auth] enabled = false, makes every request the admin without reading credentials', async () => {
    const { call, resolve } = setup({ enabled: false });
    for (const route of ['admin', 'operator', 'viewer', 'signedIn', 'metrics', 'public'] as const) {
      const r = await call(route, {}, { method: 'DELETE' });
      expect(r).toMatchObject({ ok: true });
      expect(r.request.principal).toEqual(OPEN_PRINCIPAL);
      expect(r.request.principal?.role).toBe('admin');
    }
    expect(resolve).not.toHaveBeenCalled();
  });

  it.each<[AccessLevel & ('metrics' | 'docs'), 'publicMetrics' | 'publicDocs']>([
    ['metrics', 'publicMetrics'],
    ['docs', 'publicDocs'],
  ])("makes '%s' public while [auth] %s is true, else a viewer route", async (route, key) => {
    const open = setup({ [key]: true });
    expect(await open.call(route, {})).toMatchObject({ ok: true });
    const closed = setup({ [key]: false });
    expect(status(await closed.call(route, {}))).toBe(401);
    expect(await closed.call(route, { principal: principal('viewer') })).toMatchObject({ ok: true });
    // The other key does not open it.
    const other = setup({ [key]: false, [key === 'publicMetrics' ? 'publicDocs' : 'publicMetrics']: true });
    expect(status(await other.call(route, {}))).toBe(401);
  });

  it('lets non-HTTP contexts through (gRPC is not guarded here)', async () => {
    const guard = new AccessGuard(new Reflector(), {} as Authenticator, {} as FailureLimiter, {} as AppConfig);
    await expect(guard.canActivate({ getType: () => 'rpc' } as unknown as ExecutionContext)).resolves.toBe(true);
  });
});
