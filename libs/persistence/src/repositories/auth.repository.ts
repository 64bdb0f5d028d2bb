import { Injectable } from '@nestjs/common';
import { DataSource, In, LessThan, Repository } from 'typeorm';
import { isDuplicateOn, SAVE_OPTIONS, UniqueKey } from '../db-errors';
import { ApiTokenEntity, AuditEntity, Role, SessionEntity, UserEntity } from '../entities/auth.entities';
import { cappedCount, Page } from './api-reads.repository';

export const USERNAME_KEY: UniqueKey = { mysql: 'uq_users_username', sqlite: 'users.username' };
export const TOKEN_HASH_KEY: UniqueKey = { mysql: 'uq_tokens_hash', sqlite: 'api_tokens.token_hash' };

/** A token with the user it belongs to, as a request resolves it. */
export interface TokenOwner {
  token: ApiTokenEntity;
  user: UserEntity;
}

export interface SessionOwner {
  session: SessionEntity;
  user: UserEntity;
  /** The token the session was opened with, when it was; null when that token is gone (the session is then void). */
  token: ApiTokenEntity | null;
}

export interface TokenRow extends ApiTokenEntity {
  username: string;
}

export interface AuditFilter {
  limit: number;
  offset: number;
  beforeId?: number;
  actor?: string;
  jobId?: number;
  action?: string;
}

export type NewAudit = Omit<AuditEntity, 'id'>;

/**
 * Users, API tokens, sessions and the audit log. Every write is one statement (no transaction: with better-sqlite3
 * a transaction would take in whatever else runs at that moment, see SAVE_OPTIONS); where two writers race, a
 * unique key decides (one `admin`, one row per token hash).
 */
@Injectable()
export class AuthRepository {
  constructor(private readonly ds: DataSource) {}

  private get users(): Repository<UserEntity> {
    return this.ds.getRepository(UserEntity);
  }
  private get tokens(): Repository<ApiTokenEntity> {
    return this.ds.getRepository(ApiTokenEntity);
  }
  private get sessions(): Repository<SessionEntity> {
    return this.ds.getRepository(SessionEntity);
  }
  private get audit(): Repository<AuditEntity> {
    return this.ds.getRepository(AuditEntity);
  }

  countUsers(): Promise<number> {
    return this.users.count();
  }

  findUser(id: number): Promise<UserEntity | null> {
    return this.users.findOneBy({ id });
  }

  findUserByName(username: string): Promise<UserEntity | null> {
    return this.users.findOneBy({ username });
  }

  listUsers(): Promise<UserEntity[]> {
    return this.users.find({ order: { id: 'ASC' } });
  }

  /** The new user, or null when the username is taken. */
  async createUser(fields: Omit<UserEntity, 'id'>): Promise<UserEntity | null> {
    try {
      return await this.users.save(this.users.create(fields), SAVE_OPTIONS);
    } catch (e) {
      if (isDuplicateOn(e, USERNAME_KEY)) return null;
      throw e;
    }
  }

  async updateUser(id: number, fields: Partial<Omit<UserEntity, 'id' | 'createdAt'>>): Promise<void> {
    await this.users.update({ id }, fields);
  }

  /**
   * Applies `fields` to user `id` (or deletes it) only while another enabled admin remains: the write that takes an
   * admin away. Two of them at once (two admins demoting each other) can not both pass: on MySQL the enabled admins'
   * rows are locked (SELECT … FOR UPDATE) for the check and the write; on SQLite check and write are one statement.
   * False when refused.
   */
  async changeAdminKeepingAnother(
    id: number,
    change: { update: Partial<Omit<UserEntity, 'id' | 'createdAt'>> } | { delete: true },
  ): Promise<boolean> {
    const another = "EXISTS (SELECT 1 FROM users o WHERE o.role = 'admin' AND o.disabled = 0 AND o.id <> :id)";
    if (this.ds.options.type !== 'mysql') {
      const qb =
        'update' in change
          ? this.users.createQueryBuilder().update().set(change.update)
          : this.users.createQueryBuilder().delete();
      const result = await qb.where('id = :id', { id }).andWhere(another).execute();
      return (result.affected ?? 0) > 0;
    }
    return this.ds.transaction(async (m) => {
      const admins = await m.query<{ id: string | number }[]>(
        "SELECT id FROM users WHERE role = 'admin' AND disabled = 0 FOR UPDATE",
      );
      if (!admins.some((a) => Number(a.id) !== id)) return false;
      if ('update' in change) await m.getRepository(UserEntity).update({ id }, change.update);
      else await m.getRepository(UserEntity).delete({ id });
      return true;
    });
  }

  /** The user, its tokens and its sessions. */
  async deleteUser(id: number): Promise<void> {
    await this.users.delete({ id });
    await this.deleteCredentialsOf(id);
  }

  /** A deleted user's tokens and sessions (the user row goes first, so nothing new is made for it meanwhile). */
  async deleteCredentialsOf(userId: number): Promise<void> {
    await this.sessions.delete({ userId });
    await this.tokens.delete({ userId });
  }

  /** The new token's row, or null when a row with this hash exists already. */
  async createToken(
    fields: Omit<ApiTokenEntity, 'id' | 'kind' | 'parentTokenId'> &
      Partial<Pick<ApiTokenEntity, 'kind' | 'parentTokenId'>>,
  ): Promise<ApiTokenEntity | null> {
    try {
      const row = this.tokens.create({ kind: 'user', parentTokenId: null, ...fields });
      return await this.tokens.save(row, SAVE_OPTIONS);
    } catch (e) {
      if (isDuplicateOn(e, TOKEN_HASH_KEY)) return null;
      throw e;
    }
  }

  findTokenRow(id: number): Promise<ApiTokenEntity | null> {
    return this.tokens.findOneBy({ id });
  }

  findTokenByHash(tokenHash: string): Promise<ApiTokenEntity | null> {
    return this.tokens.findOneBy({ tokenHash });
  }

  /** Deletes the configured admin tokens ([auth] admin_token) other than `keepHash`: a rotated or removed one. */
  async deleteConfiguredTokensExcept(keepHash: string | null): Promise<number[]> {
    const rows = await this.tokens.find({ select: { id: true, tokenHash: true }, where: { kind: 'configured' } });
    const gone: number[] = [];
    for (const r of rows) if (r.tokenHash !== keepHash) gone.push(...(await this.deleteToken(r.id)));
    return gone;
  }

  countTokensOf(userId: number): Promise<number> {
    return this.tokens.countBy({ userId });
  }

  async updateToken(id: number, fields: Partial<Omit<ApiTokenEntity, 'id' | 'tokenHash'>>): Promise<void> {
    await this.tokens.update({ id }, fields);
  }

  /** The token and its user, by the token's hash; null when there is no such token. */
  async tokenOwner(tokenHash: string): Promise<TokenOwner | null> {
    const token = await this.tokens.findOneBy({ tokenHash });
    if (!token) return null;
    const user = await this.users.findOneBy({ id: token.userId });
    return user ? { token, user } : null;
  }

  /** Tokens newest first, each with its username; of one user, or of everyone (each user holds at most MAX_TOKENS). */
  async listTokens(userId?: number): Promise<TokenRow[]> {
    const tokens = await this.tokens.find({ where: userId === undefined ? {} : { userId }, order: { id: 'DESC' } });
    const ids = [...new Set(tokens.map((t) => t.userId))];
    const users = ids.length ? await this.users.findBy({ id: In(ids) }) : [];
    const names = new Map(users.map((u) => [u.id, u.username]));
    return tokens.map((t) => ({ ...t, username: names.get(t.userId) ?? '' }));
  }

  /**
   * Deletes the token, the tokens made with it (and theirs), and the sessions opened with any of them: a token can
   * not outlive, through a child it made, its own revocation. The ids deleted.
   */
  async deleteToken(id: number): Promise<number[]> {
    const all = [id];
    for (let level = [id]; level.length > 0;) {
      const children = await this.tokens.find({ select: { id: true }, where: { parentTokenId: In(level) } });
      level = children.map((c) => c.id).filter((c) => !all.includes(c));
      all.push(...level);
    }
    await this.sessions.delete({ viaTokenId: In(all) });
    await this.tokens.delete({ id: In(all) });
    return all;
  }

  async touchToken(id: number, at: number): Promise<void> {
    await this.tokens.update({ id }, { lastUsedAt: at });
  }

  async createSession(fields: Omit<SessionEntity, 'id'>): Promise<SessionEntity> {
    return this.sessions.save(this.sessions.create(fields), SAVE_OPTIONS);
  }

  async sessionOwner(tokenHash: string): Promise<SessionOwner | null> {
    const session = await this.sessions.findOneBy({ tokenHash });
    if (!session) return null;
    const user = await this.users.findOneBy({ id: session.userId });
    if (!user) return null;
    const token = session.viaTokenId === null ? null : await this.tokens.findOneBy({ id: session.viaTokenId });
    return { session, user, token };
  }

  async deleteSession(id: number): Promise<void> {
    await this.sessions.delete({ id });
  }

  /** Ends every session of the user but `keepId` (a password change signs the other browsers out). */
  async deleteSessionsOf(userId: number, keepId?: number): Promise<void> {
    const qb = this.sessions.createQueryBuilder().delete().where('user_id = :userId', { userId });
    if (keepId !== undefined) qb.andWhere('id <> :keepId', { keepId });
    await qb.execute();
  }

  async deleteExpiredSessions(now: number): Promise<void> {
    await this.sessions.delete({ expiresAt: LessThan(now) });
  }

  /** The new record's id. */
  async appendAudit(entry: NewAudit): Promise<number> {
    const result = await this.audit.insert(entry);
    return Number((result.identifiers[0] as { id: number | string }).id);
  }

  async updateAuditDetail(id: number, detail: string): Promise<void> {
    await this.audit.update({ id }, { detail });
  }

  /** Whether the log holds a record of this action (e.g. the first start's auth.bootstrap). */
  async hasAudit(action: string): Promise<boolean> {
    return (await this.audit.findOne({ select: { id: true }, where: { action } })) !== null;
  }

  async deleteAudit(id: number): Promise<void> {
    await this.audit.delete({ id });
  }

  /**
   * When the newest `limit` failed sign-ins (a wrong password or token at POST /api/auth/login) of this username, or from this address,
   * happened, newest first, looking back to `since`. The brute-force limit reads them here, so it holds across
   * dispatchers and restarts.
   */
  async recentFailures(since: number, by: { actor: string } | { address: string }, limit: number): Promise<number[]> {
    const qb = this.audit
      .createQueryBuilder('a')
      .select('a.at', 'at')
      .where("a.action = 'auth.login_failed' AND a.at >= :since", { since });
    if ('actor' in by) qb.andWhere('a.actor = :actor', { actor: by.actor });
    else qb.andWhere('a.address = :address', { address: by.address });
    const rows = await qb.orderBy('a.at', 'DESC').limit(limit).getRawMany<{ at: string | number }>();
    return rows.map((r) => Number(r.at));
  }

  async listAudit(f: AuditFilter): Promise<Page<AuditEntity>> {
    const qb = this.audit.createQueryBuilder('a');
    if (f.actor !== undefined) qb.andWhere('a.actor = :actor', { actor: f.actor });
    if (f.jobId !== undefined) qb.andWhere('a.job_id = :jobId', { jobId: f.jobId });
    if (f.action !== undefined) qb.andWhere('a.action = :action', { action: f.action });
    const [countSql, params] = qb.clone().select('1').getQueryAndParameters();
    if (f.beforeId !== undefined) qb.andWhere('a.id < :beforeId', { beforeId: f.beforeId });
    const items = await qb.orderBy('a.id', 'DESC').offset(f.offset).limit(f.limit).getMany();
    return { items, ...(await cappedCount(this.ds, countSql, params)) };
  }
}

export type { Role };
