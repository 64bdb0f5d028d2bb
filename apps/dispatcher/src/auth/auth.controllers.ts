import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Patch,
  Post,
  Query,
  Req,
  Res,
  SetMetadata,
} from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { AuthRepository } from '@app/persistence';
import { IdPipe } from '../common/id.pipe';
import { Access } from './access.decorator';
import {
  AuditEntryResponse,
  AuditPage,
  CreatedTokenResponse,
  CreateTokenDto,
  CreateUserDto,
  ListAuditQuery,
  LoginDto,
  LoginResponse,
  MeResponse,
  TokenResponse,
  UpdateUserDto,
  UserResponse,
} from './dto/auth.dto';
import { AuthedRequest } from './principal';
import { Sessions } from './sessions.service';
import { Tokens } from './tokens.service';
import { Users } from './users.service';

/** Marks the sign-in route for its own per-address rate limit (throttling.ts). */
export const LOGIN_ROUTE = 'gocron:login-route';

@ApiTags('auth')
@ApiBadRequestResponse({ description: 'invalid input; `message` names every bad field' })
@Controller('api/auth')
export class AuthController {
  constructor(private readonly sessions: Sessions) {}

  @Post('login')
  @HttpCode(200)
  @Access('public')
  @SetMetadata(LOGIN_ROUTE, true)
  @ApiOperation({
    summary: 'Sign in with {username, password} or {token}: sets the session cookie and the gocron_csrf cookie',
  })
  @ApiOkResponse({ type: LoginResponse })
  @ApiUnauthorizedResponse({ description: 'invalid username or password, or invalid token' })
  @ApiTooManyRequestsResponse({ description: '10 failures for this username or from this address in 15 minutes' })
  login(@Body() dto: LoginDto, @Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<LoginResponse> {
    return this.sessions.login(dto, req, res);
  }

  @Post('logout')
  @HttpCode(204)
  @Access('signed-in')
  @ApiOperation({ summary: 'End this session and clear its cookies' })
  @ApiNoContentResponse()
  logout(@Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<void> {
    return this.sessions.logout(req, res);
  }

  @Get('me')
  @Access('signed-in')
  @ApiOperation({ summary: 'Who am I' })
  @ApiOkResponse({ type: MeResponse })
  me(@Req() req: Request): MeResponse {
    const p = (req as AuthedRequest).principal!;
    return {
      id: p.userId,
      username: p.username,
      role: p.role,
      via: p.via,
      tokenId: p.tokenId,
      hasPassword: p.hasPassword,
    };
  }
}

@ApiTags('auth')
@ApiBadRequestResponse({ description: 'invalid input; `message` names every bad field' })
@Controller('api/tokens')
export class TokensController {
  constructor(private readonly tokens: Tokens) {}

  @Get()
  @Access('signed-in')
  @ApiOperation({ summary: "Your API tokens (an admin: everyone's); never their secrets" })
  @ApiOkResponse({ type: [TokenResponse] })
  list(@Req() req: Request): Promise<TokenResponse[]> {
    return this.tokens.list(req);
  }

  @Post()
  @Access('signed-in')
  @ApiOperation({ summary: 'A new API token; its secret is in this answer only' })
  @ApiCreatedResponse({ type: CreatedTokenResponse })
  create(@Body() dto: CreateTokenDto, @Req() req: Request): Promise<CreatedTokenResponse> {
    return this.tokens.create(dto, req);
  }

  @Delete(':id')
  @HttpCode(204)
  @Access('signed-in')
  @ApiOperation({ summary: 'Revoke a token (yours; an admin: any); sessions opened with it end' })
  @ApiNoContentResponse()
  @ApiNotFoundResponse()
  @ApiConflictResponse({ description: 'the configured admin token: remove it from the configuration instead' })
  revoke(@Param('id', new IdPipe()) id: number, @Req() req: Request): Promise<void> {
    return this.tokens.revoke(id, req);
  }
}

@ApiTags('auth')
@ApiBadRequestResponse({ description: 'invalid input; `message` names every bad field' })
@Controller('api/users')
export class UsersController {
  constructor(private readonly users: Users) {}

  @Get()
  @Access('admin')
  @ApiOkResponse({ type: [UserResponse] })
  list(): Promise<UserResponse[]> {
    return this.users.list();
  }

  @Post()
  @Access('admin')
  @ApiCreatedResponse({ type: UserResponse })
  @ApiConflictResponse({ description: 'username taken' })
  create(@Body() dto: CreateUserDto, @Req() req: Request): Promise<UserResponse> {
    return this.users.create(dto, req);
  }

  @Patch(':id')
  @Access('signed-in')
  @ApiOperation({ summary: 'Change a user (admin); or your own password (anyone, with currentPassword when set)' })
  @ApiOkResponse({ type: UserResponse })
  @ApiNotFoundResponse()
  @ApiConflictResponse({ description: 'it would leave no enabled admin' })
  update(
    @Param('id', new IdPipe()) id: number,
    @Body() dto: UpdateUserDto,
    @Req() req: Request,
  ): Promise<UserResponse> {
    return this.users.update(id, dto, req);
  }

  @Delete(':id')
  @HttpCode(204)
  @Access('admin')
  @ApiOperation({ summary: 'Delete a user with its tokens and sessions' })
  @ApiNoContentResponse()
  @ApiNotFoundResponse()
  @ApiConflictResponse({ description: 'the last enabled admin' })
  remove(@Param('id', new IdPipe()) id: number, @Req() req: Request): Promise<void> {
    return this.users.remove(id, req);
  }
}

@ApiTags('audit')
@ApiBadRequestResponse({ description: 'invalid input; `message` names every bad field' })
@Controller('api/audit')
export class AuditController {
  constructor(private readonly repo: AuthRepository) {}

  @Get()
  @Access('admin')
  @ApiOperation({ summary: 'Who did what, when, from where; newest first' })
  @ApiOkResponse({ type: AuditPage })
  async list(@Query() q: ListAuditQuery): Promise<AuditPage> {
    const page = await this.repo.listAudit(q);
    const parse = (s: string | null): unknown => (s === null ? null : JSON.parse(s));
    const items: AuditEntryResponse[] = page.items.map((a) => ({
      id: a.id,
      at: new Date(a.at).toISOString(),
      actor: a.actor,
      action: a.action,
      targetType: a.targetType,
      targetId: a.targetId,
      jobId: a.jobId,
      address: a.address,
      before: parse(a.beforeJson),
      after: parse(a.afterJson),
      detail: a.detail,
    }));
    return { items, total: page.total, ...(page.totalCapped ? { totalCapped: true } : {}) };
  }
}
