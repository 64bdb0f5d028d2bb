// The first start's admin (AdminBootstrap) on both real dialects: data/admin-token created once (0600, one line) and
// never rewritten, one `admin` however many dispatchers start together (on one database, sharing a directory or
// not), a configured token accepted at every start and revoked once it is configured no more, a revoked first-start
// token left revoked, a file that holds no token stopping the start.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AppConfig, DatabaseConfig, loadConfig } from '@app/config';
import { AuthRepository, dataSourceOptions, migrate } from '@app/persistence';
import { mysqlDialect, sqliteDialect } from '../../../../test/support/ledger-dialects';
import { tmpDir } from '../../../../test/support/services';
import { waitFor } from '../../../../test/support/wait';
import { AuditLog } from '../audit/audit-log.service';
import { AdminBootstrap } from './admin-bootstrap';
import { Authenticator } from './authenticator.service';
import { newToken, sha256 } from './secrets';

const CONF = join(__dirname, '../../../../conf/conf.ini');

function configWith(auth: Partial<AppConfig['auth']> = {}): AppConfig {
  const config = loadConfig(CONF, {});
  return { ...config, auth: { ...config.auth, ...auth } };
}

/**
 * An AuthRepository whose calls of one method can be held until the test lets them go: two dispatchers' steps
 * interleaved exactly as the test says.
 */
class GatedRepository extends AuthRepository {
  private readonly gates = new Map<string, { reached: () => void; open: Promise<void> }>();

  /** The next call of `method` waits for `release()`; `reached` resolves when it is waiting. */
  hold(method: 'createUser' | 'createToken' | 'countTokensOf'): { reached: Promise<void>; release: () => void } {
    let reached!: () => void;
    let release!: () => void;
    const reachedP = new Promise<void>((r) => (reached = r));
    const open = new Promise<void>((r) => (release = r));
    this.gates.set(method, { reached, open });
    return { reached: reachedP, release };
  }

  private async gate(method: string): Promise<void> {
    const g = this.gates.get(method);
    if (!g) return;
    this.gates.delete(method);
    g.reached();
    await g.open;
  }

  override async createUser(...args: Parameters<AuthRepository['createUser']>) {
    await this.gate('createUser');
    return super.createUser(...args);
  }
  override async createToken(...args: Parameters<AuthRepository['createToken']>) {
    await this.gate('createToken');
    return super.createToken(...args);
  }
  override async countTokensOf(...args: Parameters<AuthRepository['countTokensOf']>) {
    await this.gate('countTokensOf');
    return super.countTokensOf(...args);
  }
}

/** One dispatcher's view of the database: its own DataSource, repository, audit log, authenticator, bootstrap. */
interface Node {
  ds: DataSource;
  repo: GatedRepository;
  auth: Authenticator;
  boot: AdminBootstrap;
}

describe.each([{ dialect: sqliteDialect() }, { dialect: mysqlDialect() }])(
  'AdminBootstrap on $dialect.name',
  ({ dialect }) => {
    const sources: DataSource[] = [];
    const dirs: string[] = [];
    /** A temporary directory, removed after the suite. */
    const newDir = (name: string) => {
      const d = tmpDir(name);
      dirs.push(d);
      return d;
    };
    let db: DatabaseConfig;
    let dir: string;
    let file: string;

    async function node(config = configWith()): Promise<Node> {
      const ds = new DataSource(dataSourceOptions(db));
      await ds.initialize();
      sources.push(ds);
      const repo = new GatedRepository(ds);
      const auth = new Authenticator(repo);
      return { ds, repo, auth, boot: new AdminBootstrap(repo, new AuditLog(repo), auth, config) };
    }

    beforeEach(async () => {
      db = await dialect.fresh();
      const ds = new DataSource(dataSourceOptions(db));
      await ds.initialize();
      await migrate(ds);
      await ds.destroy();
      dir = newDir('admin-bootstrap');
      file = join(dir, 'data', 'admin-token');
    });

    afterEach(async () => {
      for (const ds of sources.splice(0)) await ds.destroy();
    });

    afterAll(async () => {
      for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
      await dialect.cleanup();
    });

    const tokenIn = (path: string) => readFileSync(path, 'utf8').trim();
    const users = (n: Node) => n.repo.listUsers();
    const tokenRows = (n: Node) => n.repo.listTokens();

    /** What the token resolves to on a fresh authenticator (no cache), once its last use is recorded. */
    async function principalOf(n: Node, token: string) {
      const state = await new Authenticator(n.repo).byToken(token);
      if (state.principal) {
        // byToken records the use in the background: let that land before the suite closes the database.
        await waitFor(async () => (await n.repo.findTokenByHash(sha256(token)))?.lastUsedAt, {
          timeoutMs: 5000,
          what: 'last_used_at of the admin token',
        });
      }
      return state;
    }

    it('on an empty database, creates the token file (0600, one line) and one admin it signs in', async () => {
      const n = await node();
      await n.boot.run(file);
      const text = readFileSync(file, 'utf8');
      expect(text).toMatch(/^gct_[A-Za-z0-9_-]{43}\n$/);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(statSync(dirname(file)).mode & 0o077).toBe(0);
      // Written whole elsewhere and linked into place: no temporary file left behind.
      expect(readdirSync(dirname(file))).toEqual(['admin-token']);
      expect(await users(n)).toEqual([
        expect.objectContaining({ username: 'admin', role: 'admin', disabled: false, passwordHash: null }),
      ]);
      expect(await tokenRows(n)).toEqual([
        expect.objectContaining({ username: 'admin', role: 'admin', expiresAt: null, prefix: text.slice(0, 12) }),
      ]);
      expect((await principalOf(n, text.trim())).principal).toMatchObject({
        username: 'admin',
        role: 'admin',
        via: 'token',
      });
      const log = await n.repo.listAudit({ limit: 10, offset: 0 });
      expect(log.items).toEqual([
        expect.objectContaining({ action: 'auth.bootstrap', actor: 'system', targetType: 'user', address: '' }),
      ]);
    });

    it('at the next start, reuses the file and never rewrites it', async () => {
      await (await node()).boot.run(file);
      const before = { text: readFileSync(file, 'utf8'), stat: statSync(file) };
      const second = await node();
      await second.boot.run(file);
      await (await node()).boot.run(file);
      const after = statSync(file);
      expect(readFileSync(file, 'utf8')).toBe(before.text);
      expect([after.ino, after.mtimeMs, after.size]).toEqual([before.stat.ino, before.stat.mtimeMs, before.stat.size]);
      expect(await users(second)).toHaveLength(1);
      expect(await tokenRows(second)).toHaveLength(1);
      expect((await second.repo.listAudit({ limit: 10, offset: 0, action: 'auth.bootstrap' })).total).toBe(1);
      expect((await principalOf(second, before.text.trim())).principal?.role).toBe('admin');
    });

    it('creates no file when the database has users already', async () => {
      const n = await node();
      await n.repo.createUser({
        username: 'someone',
        passwordHash: null,
        role: 'admin',
        disabled: false,
        createdAt: 1,
        updatedAt: 1,
      });
      await n.boot.run(file);
      expect(existsSync(file)).toBe(false);
      expect((await users(n)).map((u) => u.username)).toEqual(['someone']);
    });

    it("takes the file's token for the admin of an empty database (the database was reset, the file kept)", async () => {
      const token = newToken();
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, `${token}\n`, { mode: 0o600 });
      const n = await node();
      await n.boot.run(file);
      expect(tokenIn(file)).toBe(token);
      expect((await principalOf(n, token)).principal).toMatchObject({ username: 'admin', role: 'admin' });
    });

    it('keeps a file whose token the database does not know, and attaches nothing', async () => {
      const n = await node();
      await n.boot.run(file);
      const ours = tokenIn(file);
      const foreign = join(dir, 'other', 'admin-token');
      mkdirSync(dirname(foreign), { recursive: true });
      writeFileSync(foreign, `${newToken()}\n`, { mode: 0o600 });
      const text = readFileSync(foreign, 'utf8');
      await (await node()).boot.run(foreign);
      expect(readFileSync(foreign, 'utf8')).toBe(text);
      expect((await tokenRows(n)).map((t) => t.tokenHash)).toEqual([sha256(ours)]);
      expect((await principalOf(n, text.trim())).failure).toBe('invalid token');
    });

    it('makes one admin and one token when dispatchers sharing the directory start together', async () => {
      for (let round = 0; round < 5; round++) {
        if (round > 0) {
          db = await dialect.fresh();
          const m = new DataSource(dataSourceOptions(db));
          await m.initialize();
          await migrate(m);
          await m.destroy();
          file = join(newDir('admin-bootstrap'), 'data', 'admin-token');
        }
        const [a, b] = [await node(), await node()];
        await Promise.all([a.boot.run(file), b.boot.run(file)]);
        expect(await users(a)).toEqual([expect.objectContaining({ username: 'admin', role: 'admin' })]);
        expect(await tokenRows(b)).toHaveLength(1);
        expect(readdirSync(dirname(file))).toEqual(['admin-token']);
        expect((await principalOf(a, tokenIn(file))).principal?.role).toBe('admin');
      }
    });

    it('keeps the shared file when the dispatcher that wrote it loses the race for the admin', async () => {
      // A writes the file; B, starting a moment later, reads it and creates the admin; A looks for the token
      // before B attaches it and counts the admin's tokens after: A must see that its token is the admin's.
      const [a, b] = [await node(), await node()];
      const aCreateUser = a.repo.hold('createUser');
      const aRun = a.boot.run(file);
      await aCreateUser.reached;
      expect(existsSync(file)).toBe(true);
      const bCreateToken = b.repo.hold('createToken');
      const bRun = b.boot.run(file);
      await bCreateToken.reached;
      const aCount = a.repo.hold('countTokensOf');
      aCreateUser.release();
      await aCount.reached;
      bCreateToken.release();
      await bRun;
      aCount.release();
      await aRun;
      expect(await users(a)).toHaveLength(1);
      expect(await tokenRows(a)).toHaveLength(1);
      expect(existsSync(file)).toBe(true);
      expect((await principalOf(a, tokenIn(file))).principal?.role).toBe('admin');
    });

    it('makes one admin when dispatchers on two machines (two files) start together; each file left works', async () => {
      for (let round = 0; round < 5; round++) {
        if (round > 0) {
          db = await dialect.fresh();
          const m = new DataSource(dataSourceOptions(db));
          await m.initialize();
          await migrate(m);
          await m.destroy();
        }
        const files = [
          join(newDir('machine-a'), 'data', 'admin-token'),
          join(newDir('machine-b'), 'data', 'admin-token'),
        ];
        const [a, b] = [await node(), await node()];
        await Promise.all([a.boot.run(files[0]), b.boot.run(files[1])]);
        expect(await users(a)).toEqual([expect.objectContaining({ username: 'admin', role: 'admin' })]);
        const left = files.filter((f) => existsSync(f));
        expect(left.length).toBeGreaterThanOrEqual(1);
        for (const f of left) expect((await principalOf(a, tokenIn(f))).principal?.role).toBe('admin');
        // No admin token that no file holds.
        expect((await tokenRows(a)).map((t) => t.tokenHash).sort()).toEqual(left.map((f) => sha256(tokenIn(f))).sort());
      }
    });

    describe('a first-start token revoked', () => {
      const password = { passwordHash: 'scrypt$32768$8$c2FsdA$a2V5', updatedAt: 2 };

      /**
       * The first start, then `otherWayIn` (another token, a password, ...), then the file's token revoked as
       * DELETE /api/tokens/:id does it; then a later start. The file's token must stay revoked.
       */
      async function revokeThenRestart(otherWayIn: (n: Node, adminId: number, fileTokenId: number) => Promise<void>) {
        const n = await node();
        await n.boot.run(file);
        const token = tokenIn(file);
        const admin = (await n.repo.findUserByName('admin'))!;
        const row = (await n.repo.findTokenByHash(sha256(token)))!;
        await otherWayIn(n, admin.id, row.id);
        await n.repo.deleteToken(row.id);
        const before = (await tokenRows(n)).map((t) => t.id);
        const warn = jest.spyOn(Logger.prototype, 'warn');
        try {
          await (await node()).boot.run(file);
          expect(warn.mock.calls.map((c) => String(c[0]))).toContain(
            `${file} holds a token this database does not know (revoked, or another installation's)`,
          );
        } finally {
          warn.mockRestore();
        }
        expect(tokenIn(file)).toBe(token);
        expect((await tokenRows(n)).map((t) => t.id)).toEqual(before);
        expect((await principalOf(n, token)).failure).toBe('invalid token');
        expect(await users(n)).toHaveLength(1);
      }

      const otherToken = (n: Node, userId: number, parentTokenId: number | null) =>
        n.repo.createToken({
          userId,
          name: 'made later',
          tokenHash: sha256(newToken()),
          prefix: 'gct_other',
          role: 'admin',
          expiresAt: null,
          lastUsedAt: null,
          parentTokenId,
          createdAt: 2,
        });

      it('stays revoked when the admin has another token', () =>
        revokeThenRestart(async (n, adminId) => void (await otherToken(n, adminId, null))));

      it('stays revoked when the admin has a password', () =>
        revokeThenRestart((n, adminId) => n.repo.updateUser(adminId, password)));

      // The admin's other token was made with the file's (it goes with it): the admin is left with no token and no
      // password, as it was after its creator died mid-bootstrap. The bootstrap record tells the two apart.
      it('stays revoked when the tokens made with it went too, leaving the admin no way in', () =>
        revokeThenRestart(async (n, adminId, fileTokenId) => void (await otherToken(n, adminId, fileTokenId))));
    });

    describe('with a configured admin token', () => {
      const configured = 'configured-admin-token-0123456789';
      const hash = sha256(configured);

      it('creates the admin with it and no file, and accepts it at every start', async () => {
        const n = await node(configWith({ adminToken: configured }));
        await n.boot.run(file);
        expect(existsSync(dirname(file))).toBe(false);
        expect(await users(n)).toEqual([expect.objectContaining({ username: 'admin', role: 'admin' })]);
        expect(await tokenRows(n)).toEqual([
          expect.objectContaining({
            tokenHash: hash,
            role: 'admin',
            prefix: 'conf…',
            name: 'admin_token (configured)',
          }),
        ]);
        await n.boot.run(file);
        await (await node(configWith({ adminToken: configured }))).boot.run(file);
        expect(await tokenRows(n)).toHaveLength(1);
        expect((await principalOf(n, configured)).principal).toMatchObject({ username: 'admin', role: 'admin' });
      });

      it('re-enables and re-promotes a disabled or demoted admin, and restores its row', async () => {
        const n = await node(configWith({ adminToken: configured }));
        await n.boot.run(file);
        const admin = (await n.repo.findUserByName('admin'))!;
        const row = (await n.repo.findTokenByHash(hash))!;

        await n.repo.updateUser(admin.id, { role: 'viewer', disabled: true, updatedAt: 2 });
        await n.repo.updateToken(row.id, { role: 'viewer', expiresAt: 1 });
        n.auth.forgetAll();
        expect((await n.auth.byToken(configured)).failure).toBe('token expired');
        await n.boot.run(file);
        expect(await n.repo.findUser(admin.id)).toMatchObject({ role: 'admin', disabled: false });
        expect(await n.repo.findTokenByHash(hash)).toMatchObject({ id: row.id, role: 'admin', expiresAt: null });
        // The bootstrap forgets what its authenticator had cached: the token works on it at once.
        expect((await n.auth.byToken(configured)).principal?.role).toBe('admin');

        await n.repo.deleteToken(row.id);
        await n.boot.run(file);
        expect(await n.repo.findTokenByHash(hash)).toMatchObject({ userId: admin.id, role: 'admin' });
        expect((await principalOf(n, configured)).principal?.role).toBe('admin');
      });

      it('revokes a configured token rotated out at the next start, and the last one once none is configured', async () => {
        const a = 'configured-admin-token-A-0123456789';
        const b = 'configured-admin-token-B-0123456789';
        const first = await node(configWith({ adminToken: a }));
        await first.boot.run(file);
        const n = await node(configWith({ adminToken: b }));
        // Cached on this dispatcher's authenticator before the restart: the bootstrap must forget it.
        expect((await n.auth.byToken(a)).principal?.role).toBe('admin');
        await n.boot.run(file);
        expect((await n.auth.byToken(a)).failure).toBe('invalid token');
        expect((await principalOf(n, a)).failure).toBe('invalid token');
        expect((await principalOf(n, b)).principal).toMatchObject({ username: 'admin', role: 'admin' });
        expect((await tokenRows(n)).map((t) => t.tokenHash)).toEqual([sha256(b)]);

        const none = await node(configWith({ adminToken: '' }));
        await none.boot.run(file);
        expect((await principalOf(none, b)).failure).toBe('invalid token');
        expect(await tokenRows(none)).toEqual([]);
        // No configured token and users in the database: no file is made either.
        expect(existsSync(file)).toBe(false);
        expect(await users(none)).toEqual([expect.objectContaining({ username: 'admin', role: 'admin' })]);
        const revoked = await none.repo.listAudit({ limit: 10, offset: 0, action: 'token.revoked' });
        expect(revoked.items).toHaveLength(2);
        for (const entry of revoked.items) {
          expect(entry).toMatchObject({
            actor: 'system',
            detail: expect.stringMatching(/^no longer configured: \d+$/),
          });
        }
      });

      it("recreates user admin when it was deleted, and takes the token back from another user's hands", async () => {
        const n = await node(configWith({ adminToken: configured }));
        await n.boot.run(file);
        const first = (await n.repo.findUserByName('admin'))!;
        const other = (await n.repo.createUser({
          username: 'ops',
          passwordHash: null,
          role: 'admin',
          disabled: false,
          createdAt: 1,
          updatedAt: 1,
        }))!;
        await n.repo.deleteUser(first.id);
        await n.boot.run(file);
        const second = (await n.repo.findUserByName('admin'))!;
        expect(second).toMatchObject({ role: 'admin', disabled: false });
        expect(second.id).not.toBe(first.id);
        expect((await principalOf(n, configured)).principal).toMatchObject({ username: 'admin', role: 'admin' });

        const row = (await n.repo.findTokenByHash(hash))!;
        await n.repo.updateToken(row.id, { userId: other.id });
        await n.boot.run(file);
        expect(await n.repo.findTokenByHash(hash)).toMatchObject({ id: row.id, userId: second.id });
      });
    });

    it('stops with an error naming the file when it holds no token', async () => {
      mkdirSync(dirname(file), { recursive: true });
      for (const garbage of ['not a token\n', '', '\n', 'short\n', `${'x'.repeat(600)}\n`]) {
        writeFileSync(file, garbage, { mode: 0o600 });
        const n = await node();
        await expect(n.boot.run(file)).rejects.toThrow(
          `${file}: expected one token (16 to 512 printable characters) on one line`,
        );
        expect(await n.repo.countUsers()).toBe(0);
        expect(readFileSync(file, 'utf8')).toBe(garbage);
      }
      unlinkSync(file);
    });

    it('does nothing with [auth] enabled = false', async () => {
      const n = await node(configWith({ enabled: false }));
      await n.boot.run(file);
      expect(existsSync(file)).toBe(false);
      expect(await n.repo.countUsers()).toBe(0);
    });
  },
);
