import { BadRequestException, ConflictException, Inject, Injectable, NotFoundException } from '@nestjs/common';
import type { Request } from 'express';
import { APP_CONFIG, AppConfig } from '@app/config';
import { AuthRepository } from '@app/persistence';
import { AuditLog } from '../audit/audit-log.service';
import { Authenticator } from './authenticator.service';
import { CreatedTokenResponse, CreateTokenDto, TokenResponse } from './dto/auth.dto';
import { AuthedRequest, lesserRole, rank } from './principal';
import { newToken, sha256, tokenPrefix } from './secrets';

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
    const expiresAt = dto.expiresAt === undefined ? null : Date.parse(dto.expiresAt);
    if (expiresAt !== null && expiresAt <= now) throw new BadRequestException('expiresAt must be in the future');
    const token = newToken();
    const row = await this.repo.createToken({
      userId: user.id,
      name: dto.name,
      tokenHash: sha256(token),
      prefix: tokenPrefix(token),
      role,
      expiresAt,
      lastUsedAt: null,
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
    const configured = this.config.auth.adminToken;
    if (configured && sha256(configured) === row.tokenHash) {
      throw new ConflictException(
        'this is the configured admin token ([auth] admin_token / GOCRON_AUTH_ADMIN_TOKEN): remove it there and restart',
      );
    }
    await this.repo.deleteToken(id);
    this.auth.forgetAll();
    const before = { id, name: row.name, userId: row.userId, role: row.role, prefix: row.prefix };
    await this.audit.record(req, 'token.revoked', { targetType: 'token', targetId: id, before });
  }
}
