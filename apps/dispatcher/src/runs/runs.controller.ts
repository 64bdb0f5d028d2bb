import { Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { IdPipe } from '../common/id.pipe';
import { ListAllRunsQuery } from './dto/list-runs.query';
import { RunPage, RunResponse } from './dto/run.response';
import { RunsService } from './runs.service';

@ApiTags('runs')
@ApiBadRequestResponse({ description: 'invalid input; `message` names every bad field' })
@Controller('api/runs')
export class RunsController {
  constructor(private readonly runs: RunsService) {}

  @Get()
  @ApiOperation({ summary: 'All runs, newest first' })
  @ApiOkResponse({ type: RunPage })
  list(@Query() q: ListAllRunsQuery): Promise<RunPage> {
    return this.runs.list(q);
  }

  @Get(':id')
  @ApiOkResponse({ type: RunResponse })
  @ApiNotFoundResponse()
  get(@Param('id', new IdPipe()) id: number): Promise<RunResponse> {
    return this.runs.get(id);
  }

  @Post(':id/cancel')
  @HttpCode(202)
  @ApiOperation({ summary: 'Stop the run: the process or request on the executor is stopped' })
  @ApiAcceptedResponse()
  @ApiNotFoundResponse()
  @ApiConflictResponse({ description: 'the run has already ended' })
  async cancel(@Param('id', new IdPipe()) id: number): Promise<void> {
    await this.runs.cancel(id);
  }
}
