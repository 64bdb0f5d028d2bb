import { ConflictException, ForbiddenException, Injectable, NotFoundException } from '@nestjs/common';
import type { Request } from 'express';
import { AuthRepository, UserEntity } from '@app/persistence';
import { AuditLog } from '../audit/audit-log.service';
import { Authenticator } from './authenticator.service';
import { CreateUserDto, UpdateUserDto, UserResponse } from './dto/auth.dto';
import { FailureLimiter } from './failure-limiter';
import { AuthedRequest, Principal } from './principal';
import { hashPassword, verifyPassword } from './secrets';

/** Users: admins manage everyone; anyone changes its own password. There is always an enabled admin. */
@Injectable()
export class Users {
  constructor(
    private readonly repo: AuthRepository,
    private readonly auth: Authenticator,
    private readonly audit: AuditLog,
    private readonly limiter: FailureLimiter,
  ) {}

  async list(): Promise<UserResponse[]> {
    return (await this.repo.listUsers()).map((u) => UserResponse.of(u));
  }

  async create(dto: CreateUserDto, req: Request): Promise<UserResponse> {
    const now = Date.now();
    const user = await this.repo.createUser({
      username: dto.username,
      role: dto.role,
      passwordHash: dto.password === undefined ? null : await hashPassword(dto.password),
      disabled: false,
      createdAt: now,
      updatedAt: now,
    });
    if (!user) throw new ConflictException(`username ${dto.username} is taken`);
    await this.audit.record(req, 'user.created', {
      targetType: 'user',
      targetId: user.id,
      after: UserResponse.of(user),
    });
    return UserResponse.of(user);
  }

  async update(id: number, dto: UpdateUserDto, req: Request): Promise<UserResponse> {
    const me = (req as AuthedRequest).principal!;
    const user = await this.found(id, me);
    const isAdmin = me.role === 'admin';
    if (!isAdmin && (dto.role !== undefined || dto.disabled !== undefined || dto.password === undefined)) {
      throw new ForbiddenException('you may change your own password only');
    }
    // A password signs in with the user's full role: only a credential that has it may set one. A token scoped
    // below its user (a viewer token for a scraper) must not become the user by choosing a password.
    if (!isAdmin && me.role !== user.role) {
      throw new ForbiddenException(
        `this credential is ${me.role}, below ${user.username}'s role ${user.role}: sign in with the user's password or a full token to change the password`,
      );
    }
    if (!isAdmin && user.passwordHash !== null) {
      if (dto.currentPassword === undefined) throw new ForbiddenException('currentPassword is required');
      // The current password is a guess like a sign-in's: the same limit, the same record.
      const attempt = await this.limiter.attempt(req, user.username, 'current password');
      if (!(await verifyPassword(dto.currentPassword, user.passwordHash))) {
        await attempt.failed('wrong current password');
        throw new ForbiddenException('currentPassword is wrong');
      }
      await attempt.succeeded();
    }
    const fields: Partial<UserEntity> = { updatedAt: Date.now() };
    if (dto.role !== undefined) fields.role = dto.role;
    if (dto.disabled !== undefined) fields.disabled = dto.disabled;
    if (dto.password !== undefined) fields.passwordHash = await hashPassword(dto.password);
    const losesAdmin = (dto.role !== undefined && dto.role !== 'admin') || dto.disabled === true;
    if (user.role === 'admin' && !user.disabled && losesAdmin) {
      if (!(await this.repo.changeAdminKeepingAnother(id, { update: fields }))) throw lastAdmin(user);
    } else {
      await this.repo.updateUser(id, fields);
    }
    // A new password signs out the user's other browsers; a disabled user's sessions end.
    if (dto.password !== undefined || dto.disabled === true) {
      await this.repo.deleteSessionsOf(id, me.userId === id ? (me.sessionId ?? undefined) : undefined);
    }
    this.auth.forgetAll();
    const after = (await this.repo.findUser(id))!;
    await this.audit.record(req, 'user.updated', {
      targetType: 'user',
      targetId: id,
      before: UserResponse.of(user),
      after: UserResponse.of(after),
      detail: dto.password !== undefined ? 'password changed' : undefined,
    });
    return UserResponse.of(after);
  }

  async remove(id: number, req: Request): Promise<void> {
    const user = await this.found(id, (req as AuthedRequest).principal!);
    if (user.role === 'admin' && !user.disabled) {
      if (!(await this.repo.changeAdminKeepingAnother(id, { delete: true }))) throw lastAdmin(user);
      await this.repo.deleteCredentialsOf(id);
    } else {
      await this.repo.deleteUser(id);
    }
    this.auth.forgetAll();
    await this.audit.record(req, 'user.deleted', { targetType: 'user', targetId: id, before: UserResponse.of(user) });
  }

  /** The user; a non-admin may reach only itself (403 for anyone else, as for any route above its role). */
  private async found(id: number, me: Principal): Promise<UserEntity> {
    if (me.role !== 'admin' && me.userId !== id) throw new ForbiddenException('you may change your own user only');
    const user = await this.repo.findUser(id);
    if (!user) throw new NotFoundException(`user ${id} not found`);
    return user;
  }
}

function lastAdmin(user: UserEntity): ConflictException {
  return new ConflictException(`${user.username} is the last enabled admin: make another admin first`);
}
