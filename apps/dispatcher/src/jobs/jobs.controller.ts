import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { IdPipe } from '../common/id.pipe';
import { RunPage } from '../runs/dto/run.response';
import { ListRunsQuery } from '../runs/dto/list-runs.query';
import { RunsService } from '../runs/runs.service';
import { CreateJobDto } from './dto/create-job.dto';
import { JobPage, JobResponse } from './dto/job.response';
import { ListJobsQuery } from './dto/list-jobs.query';
import { UpdateJobDto } from './dto/update-job.dto';
import { ETAG_RESPONSE_HEADER, IfMatch, IfMatchHeader, SendsJobETag, TakesIfMatch } from './job-etag';
import { JobsService } from './jobs.service';

/** A Job answer, with its version as the ETag. */
const JOB = { type: JobResponse, headers: ETAG_RESPONSE_HEADER };

@ApiTags('jobs')
@ApiBadRequestResponse({ description: 'invalid input; `message` names every bad field' })
@Controller('api/jobs')
export class JobsController {
  constructor(
    private readonly jobs: JobsService,
    private readonly runs: RunsService,
  ) {}

  @Post()
  @ApiOperation({ summary: 'Create a job; it is scheduled at once' })
  @ApiCreatedResponse(JOB)
  @ApiConflictResponse({ description: 'name taken' })
  @SendsJobETag()
  create(@Body() dto: CreateJobDto): Promise<JobResponse> {
    return this.jobs.create(dto);
  }

  @Get()
  @ApiOperation({ summary: 'List jobs' })
  @ApiOkResponse({ type: JobPage })
  list(@Query() q: ListJobsQuery): Promise<JobPage> {
    return this.jobs.list(q);
  }

  @Get(':id')
  @ApiOkResponse(JOB)
  @ApiNotFoundResponse()
  @SendsJobETag()
  get(@Param('id', new IdPipe()) id: number): Promise<JobResponse> {
    return this.jobs.get(id);
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Change a job; the new schedule is live on every dispatcher within 1 s' })
  @ApiOkResponse(JOB)
  @ApiNotFoundResponse()
  @ApiConflictResponse({ description: 'name taken; or, without If-Match, the job kept changing during the merge' })
  @TakesIfMatch()
  @SendsJobETag()
  update(
    @Param('id', new IdPipe()) id: number,
    @Body() dto: UpdateJobDto,
    @IfMatchHeader() ifMatch: IfMatch | undefined,
  ): Promise<JobResponse> {
    return this.jobs.update(id, dto, ifMatch);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a job: scheduling stops, its running runs are cancelled, its history stays' })
  @ApiNoContentResponse()
  @ApiNotFoundResponse()
  remove(@Param('id', new IdPipe()) id: number): Promise<void> {
    return this.jobs.remove(id);
  }

  @Post(':id/trigger')
  @HttpCode(202)
  @ApiOperation({ summary: 'One run now, outside the schedule' })
  @ApiAcceptedResponse({ schema: { properties: { runId: { type: 'integer' } } } })
  @ApiNotFoundResponse()
  trigger(@Param('id', new IdPipe()) id: number): Promise<{ runId: number }> {
    return this.jobs.trigger(id);
  }

  @Post(':id/pause')
  @HttpCode(200)
  @ApiOperation({ summary: 'Pause: enabled=false' })
  @ApiOkResponse(JOB)
  @ApiNotFoundResponse()
  @TakesIfMatch()
  @SendsJobETag()
  pause(@Param('id', new IdPipe()) id: number, @IfMatchHeader() ifMatch: IfMatch | undefined): Promise<JobResponse> {
    return this.jobs.pause(id, ifMatch);
  }

  @Post(':id/resume')
  @HttpCode(200)
  @ApiOperation({ summary: 'Resume; ticks that fell while paused never fire' })
  @ApiOkResponse(JOB)
  @ApiNotFoundResponse()
  @TakesIfMatch()
  @SendsJobETag()
  resume(@Param('id', new IdPipe()) id: number, @IfMatchHeader() ifMatch: IfMatch | undefined): Promise<JobResponse> {
    return this.jobs.resume(id, ifMatch);
  }

  @Get(':id/runs')
  @ApiOperation({ summary: "A job's runs, newest first (readable after the job is deleted)" })
  @ApiOkResponse({ type: RunPage })
  listRuns(@Param('id', new IdPipe()) id: number, @Query() q: ListRunsQuery): Promise<RunPage> {
    return this.runs.list({ ...q, jobId: id });
  }
}
