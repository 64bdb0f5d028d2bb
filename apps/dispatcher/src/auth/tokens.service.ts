import {
  BadRequestException,
  ConflictException,
  ForbiddenException,
  Inject,
  Injectable,
  NotFoundException,
} from '@nestjs/common';
import type { Request } from 'express';
import { APP_CONFIG, AppConfig } from '@app/config';
import { AuthRepository } from '@app/persistence';
import { AuditLog } from '../audit/audit-log.service';
import { Authenticator } from './authenticator.service';
import { CreatedTokenResponse, CreateTokenDto, TokenResponse } from './dto/auth.dto';
import { AuthedRequest, lesserRole, rank } from './principal';
import { newToken, sha256, tokenPrefix } from './secrets';

/** Tokens one user may hold: a list an admin can read whole, and no way to multiply a per-credential limit. */
export const MAX_TOKENS_PER_USER = 100;

/** API tokens: anyone manages its own, an admin everyone's. The secret is returned once, at creation. */
@Injectable()
export class Tokens {
  constructor(
    private readonly repo: AuthRepository,
    private readonly auth: Authenticator,
    private readonly audit: AuditLog,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async list(req: Request): Promise<TokenResponse[]> {
    const me = (req as AuthedRequest).principal!;
    const rows = await this.repo.listTokens(me.role === 'admin' ? undefined : (me.userId ?? -1));
    return rows.map((t) => TokenResponse.of(t));
  }

  async create(dto: CreateTokenDto, req: Request): Promise<CreatedTokenResponse> {
    const me = (req as AuthedRequest).principal!;
    if (dto.userId !== undefined && dto.userId !== me.userId && me.role !== 'admin') {
      throw new NotFoundException(`user ${dto.userId} not found`);
    }
    const userId = dto.userId ?? me.userId;
    const user = userId === null ? null : await this.repo.findUser(userId);
    if (!user) throw new NotFoundException(`user ${userId} not found`);
    // Never more than the user may do, nor more than the credential making it (a viewer token can not mint an admin one).
    const ceiling = user.id === me.userId ? lesserRole(user.role, me.role) : user.role;
    const role = dto.role ?? ceiling;
    if (rank(role) > rank(ceiling)) throw new BadRequestException(`role: at most ${ceiling} for ${user.username}`);
    const now = Date.now();
    let expiresAt = dto.expiresAt === undefined ? null : Date.parse(dto.expiresAt);
    if (expiresAt !== null && !(expiresAt > now)) throw new BadRequestException('expiresAt must be in the future');
    // A token made with a token (or a session opened with one) ends when its parent does, and goes with it.
    const parent = me.tokenId === null ? null : await this.repo.findTokenRow(me.tokenId);
    if (me.tokenId !== null && !parent) throw new NotFoundException('the token of this credential is gone');
    if (parent?.expiresAt != null && (expiresAt === null || expiresAt > parent.expiresAt)) expiresAt = parent.expiresAt;
    if ((await this.repo.countTokensOf(user.id)) >= MAX_TOKENS_PER_USER) {
      throw new ConflictException(
        `${user.username} has ${MAX_TOKENS_PER_USER} tokens, the most a user may: revoke some`,
      );
    }
    const token = newToken();
    const row = await this.repo.createToken({
      userId: user.id,
      name: dto.name,
      tokenHash: sha256(token),
      prefix: tokenPrefix(token),
      role,
      expiresAt,
      lastUsedAt: null,
      parentTokenId: parent?.id ?? null,
      createdAt: now,
    });
    if (!row) throw new ConflictException('token collision: try again');
    const shown = TokenResponse.of({ ...row, username: user.username });
    await this.audit.record(req, 'token.created', { targetType: 'token', targetId: row.id, after: shown });
    return { ...shown, token };
  }

  async revoke(id: number, req: Request): Promise<void> {
    const me = (req as AuthedRequest).principal!;
    const row = await this.repo.findTokenRow(id);
    if (!row || (me.role !== 'admin' && row.userId !== me.userId)) throw new NotFoundException(`token ${id} not found`);
    if (rank(me.role) < rank(row.role)) {
      throw new ForbiddenException(`token ${id} is ${row.role}: a ${me.role} credential can not revoke it`);
    }
    const configured = this.config.auth.adminToken;
    if (configured && sha256(configured) === row.tokenHash) {
      throw new ConflictException(
        'this is the configured admin token ([auth] admin_token / GOCRON_AUTH_ADMIN_TOKEN): remove it there and restart',
      );
    }
    const gone = await this.repo.deleteToken(id);
    this.auth.forgetAll();
    const before = { id, name: row.name, userId: row.userId, role: row.role, prefix: row.prefix };
    const detail = gone.length > 1 ? `with the tokens made with it: ${gone.slice(1).join(', ')}` : undefined;
    await this.audit.record(req, 'token.revoked', { targetType: 'token', targetId: id, before, detail });
  }
}
