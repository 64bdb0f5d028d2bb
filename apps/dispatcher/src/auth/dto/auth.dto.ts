import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsDateString, IsIn, IsInt, IsOptional, IsString, Length, Matches, Min } from 'class-validator';
import { ROLES, Role, TokenRow, UserEntity } from '@app/persistence';
import { IsOptionalNotNull } from '../../common/api-validation.pipe';
import { PageQuery, QueryInt } from '../../common/query.decorators';

/**
 * Usernames compare without case and surrounding blanks: `Admin`, `admin ` and `admin` are one user on every
 * database (MariaDB's collation ignores trailing blanks, SQLite's compares bytes), and one for the sign-in limit.
 */
export const NormalUsername = (): PropertyDecorator =>
  Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim().toLowerCase() : value));

export class LoginDto {
  @ApiPropertyOptional({ maxLength: 64 })
  @IsOptionalNotNull()
  @NormalUsername()
  @IsString()
  @Length(1, 64)
  username?: string;

  @ApiPropertyOptional({ maxLength: 1024, description: 'with username' })
  @IsOptionalNotNull()
  @IsString()
  @Length(1, 1024)
  password?: string;

  @ApiPropertyOptional({ maxLength: 512, description: 'instead of username and password: an API token' })
  @IsOptionalNotNull()
  @IsString()
  @Length(1, 512)
  token?: string;
}

export class UserResponse {
  @ApiProperty() id!: number;
  @ApiProperty() username!: string;
  @ApiProperty({ enum: ROLES }) role!: Role;
  @ApiProperty() hasPassword!: boolean;
  @ApiProperty() disabled!: boolean;
  @ApiProperty() createdAt!: string;
  @ApiProperty() updatedAt!: string;

  static of(u: UserEntity): UserResponse {
    return {
      id: u.id,
      username: u.username,
      role: u.role,
      hasPassword: u.passwordHash !== null,
      disabled: u.disabled,
      createdAt: new Date(u.createdAt).toISOString(),
      updatedAt: new Date(u.updatedAt).toISOString(),
    };
  }
}

export class LoginResponse {
  @ApiProperty({ type: UserResponse }) user!: UserResponse;
  @ApiProperty() expiresAt!: string;
  @ApiProperty({ description: 'the value to send as X-CSRF-Token (also in the gocron_csrf cookie)' })
  csrfToken!: string;
}

export class MeResponse {
  @ApiProperty({ nullable: true, type: 'integer' }) id!: number | null;
  @ApiProperty() username!: string;
  @ApiProperty({ enum: ROLES }) role!: Role;
  @ApiProperty({ enum: ['session', 'token', 'open'] }) via!: string;
  @ApiProperty({ nullable: true, type: 'integer' }) tokenId!: number | null;
  @ApiProperty() hasPassword!: boolean;
}

const USERNAME = /^[a-z0-9._@-]+$/;

export class CreateUserDto {
  @ApiProperty({ maxLength: 64, pattern: USERNAME.source, description: 'kept in lower case' })
  @NormalUsername()
  @IsString()
  @Length(1, 64)
  @Matches(USERNAME, { message: 'username may hold letters, digits and . _ @ - only' })
  username!: string;

  @ApiProperty({ enum: ROLES })
  @IsIn(ROLES)
  role!: Role;

  @ApiPropertyOptional({ minLength: 8, maxLength: 1024, description: 'none: the user signs in with tokens only' })
  @IsOptionalNotNull()
  @IsString()
  @Length(8, 1024)
  password?: string;
}

export class UpdateUserDto {
  @ApiPropertyOptional({ enum: ROLES })
  @IsOptionalNotNull()
  @IsIn(ROLES)
  role?: Role;

  @ApiPropertyOptional({ minLength: 8, maxLength: 1024 })
  @IsOptionalNotNull()
  @IsString()
  @Length(8, 1024)
  password?: string;

  @ApiPropertyOptional({ description: 'your current password, when you change your own and have one' })
  @IsOptionalNotNull()
  @IsString()
  @Length(1, 1024)
  currentPassword?: string;

  @ApiPropertyOptional()
  @IsOptionalNotNull()
  @IsBoolean()
  disabled?: boolean;
}

export class CreateTokenDto {
  @ApiProperty({ maxLength: 64 })
  @IsString()
  @Length(1, 64)
  name!: string;

  @ApiPropertyOptional({ description: 'ISO 8601, in the future; none: never expires' })
  @IsOptionalNotNull()
  @IsDateString({ strict: true }, { message: 'expiresAt must be an ISO 8601 date-time' })
  expiresAt?: string;

  @ApiPropertyOptional({ enum: ROLES, description: "at most the user's role (default: the user's role)" })
  @IsOptionalNotNull()
  @IsIn(ROLES)
  role?: Role;

  @ApiPropertyOptional({ description: 'admin only: a token for another user' })
  @IsOptionalNotNull()
  @IsInt()
  @Min(1)
  userId?: number;
}

export class TokenResponse {
  @ApiProperty() id!: number;
  @ApiProperty() name!: string;
  @ApiProperty() userId!: number;
  @ApiProperty() username!: string;
  @ApiProperty({ enum: ROLES }) role!: Role;
  @ApiProperty({ description: "the secret's first characters, to tell tokens apart" }) prefix!: string;
  @ApiProperty() createdAt!: string;
  @ApiProperty({ nullable: true, type: String }) expiresAt!: string | null;
  @ApiProperty({ nullable: true, type: String }) lastUsedAt!: string | null;

  static of(t: TokenRow): TokenResponse {
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    return {
      id: t.id,
      name: t.name,
      userId: t.userId,
      username: t.username,
      role: t.role,
      prefix: t.prefix,
      createdAt: new Date(t.createdAt).toISOString(),
      expiresAt: iso(t.expiresAt),
      lastUsedAt: iso(t.lastUsedAt),
    };
  }
}

export class CreatedTokenResponse extends TokenResponse {
  @ApiProperty({ description: 'the secret: shown here once, never again' }) token!: string;
}

export class ListAuditQuery extends PageQuery {
  @ApiPropertyOptional({ minimum: 1, description: 'keyset paging: entries with a smaller id' })
  @IsOptional()
  @QueryInt(1, Number.MAX_SAFE_INTEGER)
  beforeId?: number;

  @ApiPropertyOptional({ description: 'username' })
  @IsOptional()
  @NormalUsername()
  @IsString()
  @Length(1, 64)
  actor?: string;

  @ApiPropertyOptional({ minimum: 1 })
  @IsOptional()
  @QueryInt(1, Number.MAX_SAFE_INTEGER)
  jobId?: number;

  @ApiPropertyOptional({ description: 'e.g. job.updated, auth.login_failed' })
  @IsOptional()
  @IsString()
  @Length(1, 32)
  action?: string;
}

export class AuditEntryResponse {
  @ApiProperty() id!: number;
  @ApiProperty() at!: string;
  @ApiProperty({ nullable: true, type: String }) actor!: string | null;
  @ApiProperty() action!: string;
  @ApiProperty({ nullable: true, type: String }) targetType!: string | null;
  @ApiProperty({ nullable: true, type: 'integer' }) targetId!: number | null;
  @ApiProperty({ nullable: true, type: 'integer' }) jobId!: number | null;
  @ApiProperty() address!: string;
  @ApiProperty({ nullable: true, type: Object, description: 'the job before (secret values masked)' })
  before!: unknown;
  @ApiProperty({ nullable: true, type: Object, description: 'the job after (secret values masked)' })
  after!: unknown;
  @ApiProperty({ nullable: true, type: String }) detail!: string | null;
}

export class AuditPage {
  @ApiProperty({ type: [AuditEntryResponse] }) items!: AuditEntryResponse[];
  @ApiProperty() total!: number;
  @ApiPropertyOptional() totalCapped?: boolean;
}
