// AuthRepository on both real dialects: users, API tokens, sessions and the audit log, where the two databases
// must agree (a duplicate username or token hash is `null`, not an error; what goes with a deleted user or token;
// the audit list's filters, order and capped count; the failed sign-ins the brute-force limit counts).
import { DataSource } from 'typeorm';
import { mysqlDialect, sqliteDialect } from '../../../../test/support/ledger-dialects';
import { dataSourceOptions } from '../data-source-options';
import type { ApiTokenEntity, Role, UserEntity } from '../entities/auth.entities';
import { migrate } from '../migrator';
import { TOTAL_CAP } from './api-reads.repository';
import { AuthRepository, NewAudit } from './auth.repository';

const T = 1_765_000_000_000;
let serial = 0;
/** A name no other test of the suite uses. */
const unique = (base: string) => `${base}-${++serial}`;
const hashOf = (s: string) => s.padEnd(64, '0').slice(0, 64);

const userFields = (username: string, role: Role = 'viewer'): Omit<UserEntity, 'id'> => ({
  username,
  passwordHash: null,
  role,
  disabled: false,
  createdAt: T,
  updatedAt: T,
});

const tokenFields = (userId: number, secret: string, role: Role = 'viewer'): Omit<ApiTokenEntity, 'id'> => ({
  kind: 'user',
  parentTokenId: null,
  userId,
  name: `token ${secret}`,
  tokenHash: hashOf(secret),
  prefix: `gct_${secret.slice(0, 8)}`,
  role,
  expiresAt: null,
  lastUsedAt: null,
  createdAt: T,
});

const audit = (fields: Partial<NewAudit>): NewAudit => ({
  at: T,
  actor: null,
  action: 'job.created',
  targetType: null,
  targetId: null,
  jobId: null,
  address: '',
  beforeJson: null,
  afterJson: null,
  detail: null,
  ...fields,
});

describe.each([{ dialect: sqliteDialect() }, { dialect: mysqlDialect() }])(
  'AuthRepository on $dialect.name',
  ({ dialect }) => {
    const sources: DataSource[] = [];
    let repo: AuthRepository;

    /** A migrated, empty database of its own and its repository. */
    async function freshRepo(): Promise<{ ds: DataSource; repo: AuthRepository }> {
      const ds = new DataSource(dataSourceOptions(await dialect.fresh()));
      await ds.initialize();
      sources.push(ds);
      await migrate(ds);
      return { ds, repo: new AuthRepository(ds) };
    }

    beforeAll(async () => {
      ({ repo } = await freshRepo());
    });

    afterAll(async () => {
      for (const ds of sources) await ds.destroy();
      await dialect.cleanup();
    });

    const newUser = async (base: string, role: Role = 'viewer') =>
      (await repo.createUser(userFields(unique(base), role)))!;
    const newToken = async (userId: number, base: string, role: Role = 'viewer') =>
      (await repo.createToken(tokenFields(userId, unique(base), role)))!;
    const newSession = (userId: number, viaTokenId: number | null, expiresAt = T + 86_400_000) =>
      repo.createSession({
        tokenHash: hashOf(unique('session')),
        csrfHash: hashOf('csrf'),
        userId,
        viaTokenId,
        expiresAt,
        createdAt: T,
      });

    describe('users', () => {
      it('creates a user and answers null for a username taken, case-sensitively on both dialects', async () => {
        const name = unique('alice');
        const alice = await repo.createUser(userFields(name, 'operator'));
        expect(alice).toMatchObject({ id: expect.any(Number), username: name, role: 'operator', disabled: false });
        await expect(repo.createUser(userFields(name, 'admin'))).resolves.toBeNull();
        expect(await repo.findUserByName(name)).toEqual(alice);
        expect(await repo.findUser(alice!.id)).toEqual(alice);
        // The schema compares usernames byte for byte (utf8mb4_bin, SQLite's BINARY): another case is another user.
        const upper = await repo.createUser(userFields(name.toUpperCase()));
        expect(upper).not.toBeNull();
        expect(upper!.id).not.toBe(alice!.id);
        expect(await repo.findUserByName(name.toUpperCase())).toMatchObject({ id: upper!.id });
      });

      it('reads back what it stores: a password hash, disabled, epoch milliseconds', async () => {
        const u = (await repo.createUser({ ...userFields(unique('bob')), passwordHash: 'scrypt$1$2$3$a$b' }))!;
        await repo.updateUser(u.id, { disabled: true, role: 'admin', updatedAt: T + 5 });
        expect(await repo.findUser(u.id)).toEqual({
          ...u,
          passwordHash: 'scrypt$1$2$3$a$b',
          disabled: true,
          role: 'admin',
          createdAt: T,
          updatedAt: T + 5,
        });
      });

      it('takes an admin away only while another enabled admin remains, also when two try at once', async () => {
        const { repo: own } = await freshRepo();
        const a = (await own.createUser(userFields('a', 'admin')))!;
        const b = (await own.createUser(userFields('b', 'admin')))!;
        await own.createUser(userFields('c', 'operator'));
        await own.createUser({ ...userFields('d', 'admin'), disabled: true });
        // Two admins demoting each other at the same moment: one wins, and an enabled admin is left.
        const results = await Promise.all([
          own.changeAdminKeepingAnother(a.id, { update: { role: 'viewer', updatedAt: T } }),
          own.changeAdminKeepingAnother(b.id, { update: { role: 'viewer', updatedAt: T } }),
        ]);
        expect(results.filter(Boolean)).toHaveLength(1);
        const admins = (await own.listUsers()).filter((u) => u.role === 'admin' && !u.disabled);
        expect(admins).toHaveLength(1);
        // The last one can be neither demoted, disabled nor deleted.
        const last = admins[0];
        expect(await own.changeAdminKeepingAnother(last.id, { update: { disabled: true, updatedAt: T } })).toBe(false);
        expect(await own.changeAdminKeepingAnother(last.id, { delete: true })).toBe(false);
        expect((await own.findUser(last.id))?.role).toBe('admin');
        // With a second enabled admin, it can.
        const e = (await own.createUser(userFields('e', 'admin')))!;
        expect(await own.changeAdminKeepingAnother(last.id, { delete: true })).toBe(true);
        expect(await own.findUser(last.id)).toBeNull();
        expect((await own.findUser(e.id))?.role).toBe('admin');
        expect(await own.countUsers()).toBe(4);
      });
    });

    describe('tokens', () => {
      it('finds a token by its hash, with its user; a second row with the same hash is null', async () => {
        const u = await newUser('carol', 'operator');
        const secret = unique('gct_secret');
        const t = (await repo.createToken(tokenFields(u.id, secret, 'viewer')))!;
        expect(t).toMatchObject({ id: expect.any(Number), userId: u.id, role: 'viewer', expiresAt: null });
        await expect(repo.createToken(tokenFields(u.id, secret, 'admin'))).resolves.toBeNull();
        expect(await repo.findTokenByHash(hashOf(secret))).toEqual(t);
        expect(await repo.tokenOwner(hashOf(secret))).toEqual({ token: t, user: u });
        await expect(repo.tokenOwner(hashOf('nobody-has-this'))).resolves.toBeNull();
        await expect(repo.findTokenByHash(hashOf('nobody-has-this'))).resolves.toBeNull();
        expect(await repo.countTokensOf(u.id)).toBe(1);
      });

      it('updates and touches a token; lists tokens newest first with their usernames', async () => {
        const u = await newUser('dave');
        const v = await newUser('erin');
        const t1 = await newToken(u.id, 'one');
        const t2 = await newToken(v.id, 'two');
        const t3 = await newToken(u.id, 'three');
        await repo.touchToken(t1.id, T + 1000);
        await repo.updateToken(t3.id, { role: 'admin', expiresAt: T + 2000 });
        expect(await repo.findTokenRow(t1.id)).toMatchObject({ lastUsedAt: T + 1000 });
        expect(await repo.findTokenRow(t3.id)).toMatchObject({ role: 'admin', expiresAt: T + 2000 });
        const mine = await repo.listTokens(u.id);
        expect(mine.map((t) => [t.id, t.username])).toEqual([
          [t3.id, u.username],
          [t1.id, u.username],
        ]);
        const all = await repo.listTokens();
        const ids = all.map((t) => t.id);
        expect(ids).toEqual([...ids].sort((a, b) => b - a));
        expect(all.find((t) => t.id === t2.id)?.username).toBe(v.username);
      });

      it('deletes a token and the sessions opened with it, nothing else', async () => {
        const u = await newUser('frank');
        const t = await newToken(u.id, 'revoked');
        const other = await newToken(u.id, 'kept');
        const viaRevoked = await newSession(u.id, t.id);
        const viaKept = await newSession(u.id, other.id);
        const byPassword = await newSession(u.id, null);
        expect(await repo.sessionOwner(viaRevoked.tokenHash)).toMatchObject({
          session: { id: viaRevoked.id },
          token: t,
        });
        await repo.deleteToken(t.id);
        await expect(repo.findTokenRow(t.id)).resolves.toBeNull();
        await expect(repo.sessionOwner(viaRevoked.tokenHash)).resolves.toBeNull();
        expect(await repo.sessionOwner(viaKept.tokenHash)).toMatchObject({ token: { id: other.id } });
        expect(await repo.sessionOwner(byPassword.tokenHash)).toMatchObject({
          session: { viaTokenId: null },
          token: null,
        });
        expect(await repo.findTokenRow(other.id)).not.toBeNull();
      });
    });

    describe('deleting a user', () => {
      it('removes its tokens and its sessions, and nobody else’s', async () => {
        const gone = await newUser('gina');
        const stays = await newUser('hank');
        const goneToken = await newToken(gone.id, 'gina-token');
        const staysToken = await newToken(stays.id, 'hank-token');
        const goneSessions = [await newSession(gone.id, null), await newSession(gone.id, goneToken.id)];
        const staysSession = await newSession(stays.id, null);
        await repo.deleteUser(gone.id);
        await expect(repo.findUser(gone.id)).resolves.toBeNull();
        await expect(repo.findTokenRow(goneToken.id)).resolves.toBeNull();
        expect(await repo.countTokensOf(gone.id)).toBe(0);
        for (const s of goneSessions) await expect(repo.sessionOwner(s.tokenHash)).resolves.toBeNull();
        expect(await repo.findTokenRow(staysToken.id)).not.toBeNull();
        expect(await repo.sessionOwner(staysSession.tokenHash)).toMatchObject({ user: { id: stays.id } });
      });
    });

    describe('sessions', () => {
      it('ends every session of a user but one, and the expired ones', async () => {
        const u = await newUser('ivy');
        const [a, b, c] = [await newSession(u.id, null), await newSession(u.id, null), await newSession(u.id, null)];
        await repo.deleteSessionsOf(u.id, b.id);
        expect(await Promise.all([a, b, c].map(async (s) => (await repo.sessionOwner(s.tokenHash)) !== null))).toEqual([
          false,
          true,
          false,
        ]);
        const expired = await newSession(u.id, null, T - 1);
        await repo.deleteExpiredSessions(T);
        await expect(repo.sessionOwner(expired.tokenHash)).resolves.toBeNull();
        expect(await repo.sessionOwner(b.tokenHash)).not.toBeNull();
      });
    });

    describe('the audit log', () => {
      it('lists newest first, filtered by actor, job and action, paging by offset and beforeId', async () => {
        const { repo: own } = await freshRepo();
        const rows: NewAudit[] = [];
        for (let i = 0; i < 30; i++) {
          rows.push(
            audit({
              at: T + i,
              actor: i % 3 === 0 ? 'alice' : 'bob',
              action: i % 2 === 0 ? 'job.updated' : 'job.triggered',
              jobId: i % 5 === 0 ? 7 : 8,
              targetType: 'job',
              targetId: i % 5 === 0 ? 7 : 8,
              address: '10.0.0.1',
              beforeJson: i === 0 ? '{"name":"a"}' : null,
              afterJson: i === 0 ? '{"name":"b"}' : null,
              detail: `row ${i}`,
            }),
          );
        }
        for (const r of rows) await own.appendAudit(r);
        const detailsOf = (items: { detail: string | null }[]) => items.map((a) => Number(a.detail!.slice(4)));
        const newest = (pred: (i: number) => boolean) => Array.from({ length: 30 }, (_, i) => 29 - i).filter(pred);

        const all = await own.listAudit({ limit: 100, offset: 0 });
        expect(detailsOf(all.items)).toEqual(newest(() => true));
        expect({ total: all.total, totalCapped: all.totalCapped }).toEqual({ total: 30, totalCapped: false });
        const ids = all.items.map((a) => a.id);
        expect(ids).toEqual([...ids].sort((a, b) => b - a));
        expect(all.items.at(-1)).toEqual({
          id: expect.any(Number),
          at: T,
          actor: 'alice',
          action: 'job.updated',
          targetType: 'job',
          targetId: 7,
          jobId: 7,
          address: '10.0.0.1',
          beforeJson: '{"name":"a"}',
          afterJson: '{"name":"b"}',
          detail: 'row 0',
        });

        const alice = await own.listAudit({ limit: 100, offset: 0, actor: 'alice' });
        expect(detailsOf(alice.items)).toEqual(newest((i) => i % 3 === 0));
        expect(alice.total).toBe(10);
        const job7 = await own.listAudit({ limit: 100, offset: 0, jobId: 7 });
        expect(detailsOf(job7.items)).toEqual(newest((i) => i % 5 === 0));
        const triggered = await own.listAudit({ limit: 100, offset: 0, action: 'job.triggered' });
        expect(detailsOf(triggered.items)).toEqual(newest((i) => i % 2 === 1));
        const combined = await own.listAudit({ limit: 100, offset: 0, actor: 'bob', jobId: 8, action: 'job.updated' });
        expect(detailsOf(combined.items)).toEqual(newest((i) => i % 3 !== 0 && i % 5 !== 0 && i % 2 === 0));
        expect(combined.total).toBe(combined.items.length);
        await expect(own.listAudit({ limit: 10, offset: 0, actor: 'nobody' })).resolves.toEqual({
          items: [],
          total: 0,
          totalCapped: false,
        });

        // Pages: offset, then beforeId; the total stays the filter's, not what is left after the cursor.
        const page2 = await own.listAudit({ limit: 5, offset: 5 });
        expect(detailsOf(page2.items)).toEqual([24, 23, 22, 21, 20]);
        const after = await own.listAudit({ limit: 4, offset: 0, beforeId: page2.items[4].id });
        expect(detailsOf(after.items)).toEqual([19, 18, 17, 16]);
        expect(after.total).toBe(30);
        const aliceAfter = await own.listAudit({ limit: 100, offset: 0, actor: 'alice', beforeId: page2.items[4].id });
        expect(detailsOf(aliceAfter.items)).toEqual(newest((i) => i % 3 === 0 && i < 20));
        expect(aliceAfter.total).toBe(10);
      });

      it(`counts up to ${TOTAL_CAP} and says when the total is capped`, async () => {
        const { ds, repo: own } = await freshRepo();
        const n = TOTAL_CAP + 1;
        for (let i = 0; i < n; i += 500) {
          const count = Math.min(500, n - i);
          const values: unknown[] = [];
          for (let k = 0; k < count; k++) values.push(T + i + k, i + k === 0 ? 'alice' : 'bob', 'job.updated', '');
          await ds.query(
            `INSERT INTO audit_log (at, actor, action, address) VALUES ${Array(count).fill('(?, ?, ?, ?)').join(', ')}`,
            values,
          );
        }
        const page = await own.listAudit({ limit: 3, offset: 0 });
        expect(page).toMatchObject({ total: TOTAL_CAP, totalCapped: true });
        expect(page.items.map((a) => a.at)).toEqual([T + n - 1, T + n - 2, T + n - 3]);
        expect(await own.listAudit({ limit: 3, offset: 0, actor: 'alice' })).toMatchObject({
          total: 1,
          totalCapped: false,
        });
        // Exactly the cap is an exact count.
        expect(await own.listAudit({ limit: 3, offset: 0, actor: 'bob' })).toMatchObject({
          total: TOTAL_CAP,
          totalCapped: false,
        });
      });

      it('answers the recent failed sign-ins of a username or an address, newest first, only auth.login_failed', async () => {
        const { repo: own } = await freshRepo();
        const failed = (at: number, actor: string | null, address: string) =>
          own.appendAudit(audit({ at, actor, address, action: 'auth.login_failed', detail: 'wrong password' }));
        await failed(T - 60_000, 'mallory', '10.0.0.9'); // before the window
        await failed(T, 'mallory', '10.0.0.9'); // at its start: counted
        await failed(T + 10, 'mallory', '10.0.0.8');
        await failed(T + 20, 'alice', '10.0.0.9');
        await failed(T + 30, null, '10.0.0.9'); // a wrong token sent to login: no username
        for (const action of ['auth.token_rejected', 'auth.login', 'auth.logout', 'job.updated'] as const) {
          await own.appendAudit(audit({ at: T + 40, actor: 'mallory', address: '10.0.0.9', action }));
        }
        await expect(own.recentFailures(T, { actor: 'mallory' }, 10)).resolves.toEqual([T + 10, T]);
        await expect(own.recentFailures(T, { actor: 'alice' }, 10)).resolves.toEqual([T + 20]);
        await expect(own.recentFailures(T, { address: '10.0.0.9' }, 10)).resolves.toEqual([T + 30, T + 20, T]);
        await expect(own.recentFailures(T, { address: '10.0.0.8' }, 10)).resolves.toEqual([T + 10]);
        await expect(own.recentFailures(T - 60_000, { address: '10.0.0.9' }, 10)).resolves.toEqual([
          T + 30,
          T + 20,
          T,
          T - 60_000,
        ]);
        // The newest `limit` only.
        await expect(own.recentFailures(T - 60_000, { address: '10.0.0.9' }, 2)).resolves.toEqual([T + 30, T + 20]);
        await expect(own.recentFailures(T + 31, { address: '10.0.0.9' }, 10)).resolves.toEqual([]);
        await expect(own.recentFailures(T, { actor: 'nobody' }, 10)).resolves.toEqual([]);
      });
    });
  },
);
