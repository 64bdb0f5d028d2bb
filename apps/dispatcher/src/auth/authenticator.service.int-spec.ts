// Authenticator on both real dialects: what a bearer token resolves to (expired, revoked, a disabled user, a role
// scoped down), how long another dispatcher's cached read of a revoked token lasts, sessions and their CSRF check.
import type { Request } from 'express';
import { DataSource } from 'typeorm';
import { AuthRepository, dataSourceOptions, migrate, Role } from '@app/persistence';
import { mysqlDialect, sqliteDialect } from '../../../../test/support/ledger-dialects';
import { waitFor } from '../../../../test/support/wait';
import { Authenticator, CREDENTIAL_CACHE_MS } from './authenticator.service';
import { newCookieValue, newToken, sha256, tokenPrefix } from './secrets';

describe.each([{ dialect: sqliteDialect() }, { dialect: mysqlDialect() }])(
  'Authenticator on $dialect.name',
  ({ dialect }) => {
    let ds: DataSource;
    let repo: AuthRepository;
    let auth: Authenticator;
    let serial = 0;

    beforeAll(async () => {
      ds = new DataSource(dataSourceOptions(await dialect.fresh()));
      await ds.initialize();
      await migrate(ds);
      repo = new AuthRepository(ds);
    });

    beforeEach(() => {
      auth = new Authenticator(repo);
    });

    afterAll(async () => {
      await ds?.destroy();
      await dialect.cleanup();
    });

    async function user(role: Role, fields: { disabled?: boolean; passwordHash?: string | null } = {}) {
      const now = Date.now();
      return (await repo.createUser({
        username: `user-${++serial}`,
        passwordHash: null,
        role,
        disabled: false,
        createdAt: now,
        updatedAt: now,
        ...fields,
      }))!;
    }

    /** A token of the user, stored as the API stores it; answers the secret and the row. */
    async function token(userId: number, role: Role, expiresAt: number | null = null) {
      const secret = newToken();
      const row = (await repo.createToken({
        userId,
        name: `t${++serial}`,
        tokenHash: sha256(secret),
        prefix: tokenPrefix(secret),
        role,
        expiresAt,
        lastUsedAt: null,
        createdAt: Date.now(),
      }))!;
      return { secret, row };
    }

    /** byToken, then (when it resolved) waits for the last-use write it starts in the background. */
    async function resolveToken(a: Authenticator, secret: string) {
      const state = await a.byToken(secret);
      if (state.principal) {
        await waitFor(async () => (await repo.findTokenByHash(sha256(secret)))?.lastUsedAt, {
          timeoutMs: 5000,
          what: 'last_used_at written',
        });
      }
      return state;
    }

    const request = (headers: Record<string, string>, method = 'GET') => ({ headers, method }) as unknown as Request;

    it("resolves a token to its user, recording its last use; its role is the lesser of the token's and the user's", async () => {
      const operator = await user('operator', { passwordHash: 'scrypt$x' });
      const admin = await user('admin');
      const cases: [Role, Role, Role][] = [
        // user role, token role, effective
        ['operator', 'admin', 'operator'],
        ['operator', 'viewer', 'viewer'],
        ['operator', 'operator', 'operator'],
        ['admin', 'viewer', 'viewer'],
        ['admin', 'operator', 'operator'],
        ['admin', 'admin', 'admin'],
      ];
      for (const [userRole, tokenRole, effective] of cases) {
        const u = userRole === 'admin' ? admin : operator;
        const { secret, row } = await token(u.id, tokenRole);
        const before = Date.now();
        expect(await resolveToken(auth, secret)).toEqual({
          principal: {
            userId: u.id,
            username: u.username,
            role: effective,
            via: 'token',
            tokenId: row.id,
            sessionId: null,
            hasPassword: u === operator,
          },
        });
        expect((await repo.findTokenRow(row.id))!.lastUsedAt).toBeGreaterThanOrEqual(before);
      }
      // A user demoted after its admin token was made acts as what it is now.
      const { secret } = await token(admin.id, 'admin');
      await repo.updateUser(admin.id, { role: 'viewer', updatedAt: Date.now() });
      auth.forgetAll();
      expect((await resolveToken(auth, secret)).principal?.role).toBe('viewer');
    });

    it("refuses an expired token with 'token expired'", async () => {
      const u = await user('admin');
      const past = await token(u.id, 'admin', Date.now() - 1);
      expect(await auth.byToken(past.secret)).toEqual({ failure: 'token expired' });
      // A token that expires while cached is refused once its time has passed, cache or not.
      const soon = await token(u.id, 'admin', Date.now() + 300);
      expect((await resolveToken(auth, soon.secret)).principal).toBeDefined();
      await waitFor(async () => (await auth.byToken(soon.secret)).failure === 'token expired', {
        timeoutMs: 5000,
        intervalMs: 50,
        what: 'the cached token to expire',
      });
    });

    it("refuses a deleted token with 'invalid token' at once after forgetAll", async () => {
      const u = await user('operator');
      const { secret, row } = await token(u.id, 'operator');
      expect((await resolveToken(auth, secret)).principal).toBeDefined();
      await repo.deleteToken(row.id);
      auth.forgetAll();
      expect(await auth.byToken(secret)).toEqual({ failure: 'invalid token' });
      expect(await auth.byToken(newToken())).toEqual({ failure: 'invalid token' });
    });

    it(`takes a token deleted on another dispatcher as invalid within ${CREDENTIAL_CACHE_MS} ms`, async () => {
      const u = await user('operator');
      const { secret, row } = await token(u.id, 'operator');
      const here = new Authenticator(repo);
      const there = new Authenticator(repo);
      const cachedAt = Date.now();
      expect((await resolveToken(here, secret)).principal).toBeDefined();
      expect((await there.byToken(secret)).principal).toBeDefined();
      const deleted = Date.now();
      await repo.deleteToken(row.id);
      there.forgetAll();
      expect(await there.byToken(secret)).toEqual({ failure: 'invalid token' });
      // Until its read is CREDENTIAL_CACHE_MS old, the other one still takes the token (checked only while it is
      // surely younger than that, so a slow machine cannot fail this).
      const askedAt = Date.now();
      const cached = await here.byToken(secret);
      if (askedAt < cachedAt + CREDENTIAL_CACHE_MS) expect(cached.principal?.tokenId).toBe(row.id);
      await waitFor(async () => (await here.byToken(secret)).failure === 'invalid token', {
        timeoutMs: CREDENTIAL_CACHE_MS + 1000,
        intervalMs: 50,
        what: 'the revocation to reach the other authenticator',
      });
      expect(Date.now() - deleted).toBeLessThanOrEqual(CREDENTIAL_CACHE_MS + 1000);
    });

    it("refuses a disabled user's tokens with 'user disabled'", async () => {
      const u = await user('admin', { disabled: true });
      const { secret } = await token(u.id, 'admin');
      expect(await auth.byToken(secret)).toEqual({ failure: 'user disabled' });
      // Disabled after its token was read: refused once the cache is forgotten.
      const v = await user('admin');
      const t = await token(v.id, 'viewer');
      expect((await resolveToken(auth, t.secret)).principal).toBeDefined();
      await repo.updateUser(v.id, { disabled: true, updatedAt: Date.now() });
      auth.forgetAll();
      expect(await auth.byToken(t.secret)).toEqual({ failure: 'user disabled' });
    });

    it('reads the Authorization header: a Bearer token, or why it is not one', async () => {
      const u = await user('viewer');
      const { secret } = await token(u.id, 'viewer');
      await expect(auth.resolve(request({ authorization: `Bearer ${secret}` }))).resolves.toMatchObject({
        principal: { userId: u.id, via: 'token' },
      });
      await expect(auth.resolve(request({ authorization: `bearer   ${secret}` }))).resolves.toMatchObject({
        principal: { userId: u.id },
      });
      for (const header of [`Basic ${secret}`, secret, 'Bearer', `Bearer ${secret} extra`]) {
        await expect(auth.resolve(request({ authorization: header }))).resolves.toEqual({
          failure: 'Authorization: expected "Bearer <token>"',
        });
      }
      await expect(auth.resolve(request({}))).resolves.toEqual({});
      // The header wins over a cookie.
      await expect(
        auth.resolve(request({ authorization: 'Bearer gct_nope', cookie: 'gocron_session=abc' })),
      ).resolves.toEqual({ failure: 'invalid token' });
    });

    describe('sessions', () => {
      async function session(userId: number, viaTokenId: number | null, expiresAt = Date.now() + 60_000) {
        const [value, csrf] = [newCookieValue(), newCookieValue()];
        const row = await repo.createSession({
          tokenHash: sha256(value),
          csrfHash: sha256(csrf),
          userId,
          viaTokenId,
          expiresAt,
          createdAt: Date.now(),
        });
        return { value, csrf, row, cookie: `gocron_session=${value}; gocron_csrf=${csrf}` };
      }

      it('resolves the session cookie; a change needs X-CSRF-Token equal to the cookie and to the session’s', async () => {
        const u = await user('operator', { passwordHash: 'scrypt$x' });
        const s = await session(u.id, null);
        await expect(auth.resolve(request({ cookie: s.cookie }))).resolves.toEqual({
          principal: {
            userId: u.id,
            username: u.username,
            role: 'operator',
            via: 'session',
            tokenId: null,
            sessionId: s.row.id,
            hasPassword: true,
          },
          csrfOk: true,
        });
        const post = (headers: Record<string, string>) => auth.resolve(request(headers, 'POST'));
        await expect(post({ cookie: s.cookie, 'x-csrf-token': s.csrf })).resolves.toMatchObject({ csrfOk: true });
        await expect(post({ cookie: s.cookie })).resolves.toMatchObject({ csrfOk: false });
        await expect(post({ cookie: s.cookie, 'x-csrf-token': newCookieValue() })).resolves.toMatchObject({
          csrfOk: false,
        });
        // Another session's CSRF pair, header and cookie agreeing: not this session's.
        const other = await session(u.id, null);
        await expect(
          post({ cookie: `gocron_session=${s.value}; gocron_csrf=${other.csrf}`, 'x-csrf-token': other.csrf }),
        ).resolves.toMatchObject({ csrfOk: false });
      });

      it("takes the role of the token a session was opened with, and ends with that token's revocation", async () => {
        const u = await user('admin');
        const t = await token(u.id, 'viewer');
        const s = await session(u.id, t.row.id);
        await expect(auth.resolve(request({ cookie: s.cookie }))).resolves.toMatchObject({
          principal: { role: 'viewer', via: 'session', tokenId: t.row.id, sessionId: s.row.id },
        });
        // Revoked by hand (the row only, as another dispatcher's stale read could see it): the session is void.
        await ds.query('DELETE FROM api_tokens WHERE id = ?', [t.row.id]);
        auth.forgetAll();
        await expect(auth.resolve(request({ cookie: s.cookie }))).resolves.toEqual({
          failure: 'the token this session was opened with is revoked or expired: sign in again',
        });
      });

      it('refuses an expired or unknown session and a disabled user', async () => {
        const u = await user('viewer');
        const expired = await session(u.id, null, Date.now() - 1);
        await expect(auth.resolve(request({ cookie: expired.cookie }))).resolves.toEqual({
          failure: 'session expired or signed out: sign in again',
        });
        await expect(auth.resolve(request({ cookie: `gocron_session=${newCookieValue()}` }))).resolves.toEqual({
          failure: 'session expired or signed out: sign in again',
        });
        const d = await user('viewer', { disabled: true });
        const s = await session(d.id, null);
        await expect(auth.resolve(request({ cookie: s.cookie }))).resolves.toEqual({ failure: 'user disabled' });
      });
    });
  },
);
