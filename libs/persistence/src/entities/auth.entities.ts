import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs, int64 } from './ms-transformer';

import type { Role } from '@app/contract';

export { ROLES, type Role } from '@app/contract';

/** A person or a machine account. A user without a password signs in with its tokens only. */
@Entity({ name: 'users' })
export class UserEntity {
  @PrimaryColumn({ type: 'bigint', generated: 'increment', transformer: int64 })
  id!: number;

  @Column({ type: 'varchar', length: 64 })
  username!: string;

  /** `scrypt$N$r$p$salt$hash` (base64url), or null. */
  @Column({ name: 'password_hash', type: 'varchar', length: 255, nullable: true })
  passwordHash!: string | null;

  @Column({ type: 'varchar', length: 16 })
  role!: Role;

  @Column({ type: 'boolean', default: false })
  disabled!: boolean;

  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs })
  createdAt!: number;

  @Column({ name: 'updated_at', type: 'bigint', transformer: epochMs })
  updatedAt!: number;
}

export type TokenKind = 'user' | 'configured' | 'first-start';

/** An API token: only its SHA-256 is stored; the secret is shown once, at creation. */
@Entity({ name: 'api_tokens' })
export class ApiTokenEntity {
  @PrimaryColumn({ type: 'bigint', generated: 'increment', transformer: int64 })
  id!: number;

  @Column({ name: 'user_id', type: 'bigint', transformer: int64 })
  userId!: number;

  @Column({ type: 'varchar', length: 64 })
  name!: string;

  @Column({ name: 'token_hash', type: 'varchar', length: 64 })
  tokenHash!: string;

  /** The secret's first characters, so a user can tell tokens apart; not enough to use one. */
  @Column({ type: 'varchar', length: 16 })
  prefix!: string;

  /** At most the user's role: a token may be scoped down (a viewer token for a metrics scraper). */
  @Column({ type: 'varchar', length: 16 })
  role!: Role;

  @Column({ name: 'expires_at', type: 'bigint', nullable: true, transformer: epochMs })
  expiresAt!: number | null;

  @Column({ name: 'last_used_at', type: 'bigint', nullable: true, transformer: epochMs })
  lastUsedAt!: number | null;

  /** The token whose credential made this one (directly, or through a session opened with it): revoked with it. */
  /** `user` (made through the API), `configured` ([auth] admin_token), `first-start` (data/admin-token). */
  @Column({ type: 'varchar', length: 16, default: 'user' })
  kind!: TokenKind;

  @Column({ name: 'parent_token_id', type: 'bigint', nullable: true, transformer: int64 })
  parentTokenId!: number | null;

  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs })
  createdAt!: number;
}

/** A dashboard session: the cookie's SHA-256 and its CSRF token's. Shared by every dispatcher through the database. */
@Entity({ name: 'sessions' })
export class SessionEntity {
  @PrimaryColumn({ type: 'bigint', generated: 'increment', transformer: int64 })
  id!: number;

  @Column({ name: 'token_hash', type: 'varchar', length: 64 })
  tokenHash!: string;

  @Column({ name: 'csrf_hash', type: 'varchar', length: 64 })
  csrfHash!: string;

  @Column({ name: 'user_id', type: 'bigint', transformer: int64 })
  userId!: number;

  /** The API token the session was opened with (its role applies; revoking it ends the session), or null. */
  @Column({ name: 'via_token_id', type: 'bigint', nullable: true, transformer: epochMs })
  viaTokenId!: number | null;

  @Column({ name: 'expires_at', type: 'bigint', transformer: epochMs })
  expiresAt!: number;

  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs })
  createdAt!: number;
}

/** Who did what, when, from where. Append-only. */
@Entity({ name: 'audit_log' })
export class AuditEntity {
  @PrimaryColumn({ type: 'bigint', generated: 'increment', transformer: int64 })
  id!: number;

  @Column({ type: 'bigint', transformer: epochMs })
  at!: number;

  /** The username, or null when the request carried no valid credential (a failed token). */
  @Column({ type: 'varchar', length: 64, nullable: true })
  actor!: string | null;

  @Column({ type: 'varchar', length: 32 })
  action!: string;

  @Column({ name: 'target_type', type: 'varchar', length: 16, nullable: true })
  targetType!: string | null;

  @Column({ name: 'target_id', type: 'bigint', nullable: true, transformer: epochMs })
  targetId!: number | null;

  @Column({ name: 'job_id', type: 'bigint', nullable: true, transformer: epochMs })
  jobId!: number | null;

  @Column({ type: 'varchar', length: 64, default: '' })
  address!: string;

  @Column({ name: 'before_json', type: 'text', nullable: true })
  beforeJson!: string | null;

  @Column({ name: 'after_json', type: 'text', nullable: true })
  afterJson!: string | null;

  @Column({ type: 'varchar', length: 1024, nullable: true })
  detail!: string | null;
}

export const AUTH_ENTITIES = [UserEntity, ApiTokenEntity, SessionEntity, AuditEntity];
