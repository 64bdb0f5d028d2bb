import { unlinkSync } from 'node:fs';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { createSecretFile, readSecretFile } from '@app/common';
import { APP_CONFIG, AppConfig } from '@app/config';
import { AuthRepository } from '@app/persistence';
import { AuditLog } from '../audit/audit-log.service';
import { Authenticator } from './authenticator.service';
import { newToken, sha256, tokenPrefix } from './secrets';

/** Where the first start leaves the admin token when none is configured (relative to the working directory). */
export const ADMIN_TOKEN_FILE = 'data/admin-token';
const TOKEN_TEXT = /^[\x21-\x7e]{16,512}$/;

type Outcome = 'created' | 'attached' | 'present' | 'unused';

/**
 * The first start stays one command: with no user in the database, user `admin` is created with an admin token,
 * taken from [auth] admin_token (GOCRON_AUTH_ADMIN_TOKEN), else from data/admin-token, generated there once (0600,
 * the token alone on one line, never rewritten). Safe when several dispatchers start together: the file is created
 * with link(2), which fails when it exists, so dispatchers sharing a directory share one token; the unique
 * username makes one `admin`. A configured token is accepted as admin at every start (break-glass): its row is
 * restored, its user re-enabled as admin.
 */
@Injectable()
export class AdminBootstrap {
  private readonly logger = new Logger(AdminBootstrap.name);

  constructor(
    private readonly repo: AuthRepository,
    private readonly audit: AuditLog,
    private readonly auth: Authenticator,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async run(file = ADMIN_TOKEN_FILE): Promise<void> {
    if (!this.config.auth.enabled) {
      this.logger.warn('[auth] enabled = false: every request is admin. Only on a closed test network.');
      return;
    }
    const configured = this.config.auth.adminToken;
    // A configured token that was rotated out, or removed from the configuration, stops working now.
    const dropped = await this.repo.deleteConfiguredTokensExcept(configured ? sha256(configured) : null);
    if (dropped.length > 0) {
      this.auth.forgetAll();
      this.logger.log(`admin token: ${dropped.length} configured token(s) no longer configured revoked`);
      await this.audit.record(null, 'token.revoked', { detail: `no longer configured: ${dropped.join(', ')}` });
    }
    if (configured) {
      const outcome = await this.ensureAdmin(configured, true);
      this.logger.log(`admin token: the configured one ([auth] admin_token / GOCRON_AUTH_ADMIN_TOKEN)${note(outcome)}`);
      return;
    }
    let token = readTokenFile(file);
    let createdFile = false;
    if (token === null) {
      if ((await this.repo.countUsers()) > 0) return;
      ({ token, created: createdFile } = createTokenFile(file));
    }
    const outcome = await this.ensureAdmin(token, false, createdFile);
    if (outcome === 'unused') {
      if (createdFile) unlinkSync(file);
      else this.logger.warn(`${file} holds a token this database does not know (revoked, or another installation's)`);
      return;
    }
    this.logger.log(`admin token: in ${file} (cat ${file}); sign in at the dashboard with it${note(outcome)}`);
  }

  private async ensureAdmin(token: string, configured: boolean, createdFile = false): Promise<Outcome> {
    const now = Date.now();
    const fields = { passwordHash: null, role: 'admin' as const, disabled: false, createdAt: now, updatedAt: now };
    let created = false;
    if ((await this.repo.countUsers()) === 0)
      created = (await this.repo.createUser({ username: 'admin', ...fields })) !== null;
    let admin = await this.repo.findUserByName('admin');
    if (!admin && configured) {
      await this.repo.createUser({ username: 'admin', ...fields });
      admin = await this.repo.findUserByName('admin');
    }
    if (!admin) return 'unused';
    if (configured && (admin.role !== 'admin' || admin.disabled)) {
      await this.repo.updateUser(admin.id, { role: 'admin', disabled: false, updatedAt: now });
    }
    const hash = sha256(token);
    const existing = await this.repo.findTokenByHash(hash);
    if (existing) {
      const stale = existing.userId !== admin.id || existing.role !== 'admin' || existing.expiresAt !== null;
      if (configured && (stale || existing.kind !== 'configured')) {
        await this.repo.updateToken(existing.id, {
          userId: admin.id,
          role: 'admin',
          expiresAt: null,
          kind: 'configured',
        });
      }
    } else {
      // A generated token is attached only by the start that made the file, or to an admin its creator left with no
      // way in (it died before this step: no bootstrap record). A revoked first-start token stays revoked.
      const locked =
        admin.passwordHash === null &&
        (await this.repo.countTokensOf(admin.id)) === 0 &&
        !(await this.repo.hasAudit('auth.bootstrap'));
      // The token counted may be this very one, attached meanwhile by a dispatcher that read the same file.
      if (!configured && !created && !createdFile && !locked)
        return (await this.repo.findTokenByHash(hash)) ? 'present' : 'unused';
      await this.repo.createToken({
        userId: admin.id,
        name: configured ? 'admin_token (configured)' : 'admin-token (first start)',
        kind: configured ? 'configured' : 'first-start',
        tokenHash: hash,
        prefix: tokenPrefix(token),
        role: 'admin',
        expiresAt: null,
        lastUsedAt: null,
        createdAt: now,
      });
    }
    this.auth.forgetAll();
    if (created) {
      await this.audit.record(null, 'auth.bootstrap', {
        targetType: 'user',
        targetId: admin.id,
        detail: 'first start: user admin created',
      });
      return 'created';
    }
    return existing ? 'present' : 'attached';
  }
}

function note(outcome: Outcome): string {
  return outcome === 'created' ? ' (first start: user admin created)' : '';
}

const TOKEN_FORMAT = { pattern: TOKEN_TEXT, describe: 'one token (16 to 512 printable characters) on one line' };

/** The token in `file`, or null when there is no file; a file that holds no token stops the start, naming it. */
export function readTokenFile(file: string): string | null {
  return readSecretFile(file, TOKEN_FORMAT);
}

/** A new token in `file` (0600) unless the file exists; then the token it holds (see createSecretFile). */
export function createTokenFile(file: string): { token: string; created: boolean } {
  const { secret, created } = createSecretFile(file, TOKEN_FORMAT, newToken);
  return { token: secret, created };
}
