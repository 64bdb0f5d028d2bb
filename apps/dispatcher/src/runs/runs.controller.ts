import { Controller, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { Request } from 'express';
import { AuditLog } from '../audit/audit-log.service';
import { IdPipe } from '../common/id.pipe';
import { ListAllRunsQuery } from './dto/list-runs.query';
import { RunPage, RunResponse } from './dto/run.response';
import { RunsService } from './runs.service';
import { Access } from '../auth/access.decorator';

@ApiTags('runs')
@ApiBadRequestResponse({ description: 'invalid input; `message` names every bad field' })
@Controller('api/runs')
export class RunsController {
  constructor(
    private readonly runs: RunsService,
    private readonly audit: AuditLog,
  ) {}

  @Get()
  @Access('viewer')
  @ApiOperation({ summary: 'All runs, newest first' })
  @ApiOkResponse({ type: RunPage })
  list(@Query() q: ListAllRunsQuery): Promise<RunPage> {
    return this.runs.list(q);
  }

  @Get(':id')
  @Access('viewer')
  @ApiOkResponse({ type: RunResponse })
  @ApiNotFoundResponse()
  get(@Param('id', new IdPipe()) id: number): Promise<RunResponse> {
    return this.runs.get(id);
  }

  @Post(':id/cancel')
  @Access('operator')
  @HttpCode(202)
  @ApiOperation({ summary: 'Stop the run: the process or request on the executor is stopped' })
  @ApiAcceptedResponse()
  @ApiNotFoundResponse()
  @ApiConflictResponse({ description: 'the run has already ended' })
  async cancel(@Param('id', new IdPipe()) id: number, @Req() req: Request): Promise<void> {
    const run = await this.runs.get(id);
    await this.runs.cancel(id);
    await this.audit.record(req, 'run.cancelled', { targetType: 'run', targetId: id, jobId: run.jobId });
  }
}
