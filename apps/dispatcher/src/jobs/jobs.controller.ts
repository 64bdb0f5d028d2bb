import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query, Req } from '@nestjs/common';
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
import type { Request } from 'express';
import { AuditLog, maskJob } from '../audit/audit-log.service';
import { Access } from '../auth/access.decorator';
import { IdPipe } from '../common/id.pipe';
import { RunPage } from '../runs/dto/run.response';
import { ListRunsQuery } from '../runs/dto/list-runs.query';
import { RunsService } from '../runs/runs.service';
import { CreateJobDto } from './dto/create-job.dto';
import { DeleteJobQuery, TriggerJobQuery } from './dto/job-actions.query';
import { JobGraphResponse, JobPage, JobResponse } from './dto/job.response';
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
    private readonly audit: AuditLog,
  ) {}

  @Post()
  @Access('admin')
  @ApiOperation({ summary: 'Create a job; it is scheduled at once' })
  @ApiCreatedResponse(JOB)
  @ApiConflictResponse({ description: 'name taken' })
  @SendsJobETag()
  async create(@Body() dto: CreateJobDto, @Req() req: Request): Promise<JobResponse> {
    const job = await this.jobs.create(dto);
    await this.audit.record(req, 'job.created', {
      targetType: 'job',
      targetId: job.id,
      jobId: job.id,
      after: maskJob(job),
    });
    return job;
  }

  @Get()
  @Access('viewer')
  @ApiOperation({ summary: 'List jobs' })
  @ApiOkResponse({ type: JobPage })
  list(@Query() q: ListJobsQuery): Promise<JobPage> {
    return this.jobs.list(q);
  }

  @Get(':id')
  @Access('viewer')
  @ApiOkResponse(JOB)
  @ApiNotFoundResponse()
  @SendsJobETag()
  get(@Param('id', new IdPipe()) id: number): Promise<JobResponse> {
    return this.jobs.get(id);
  }

  @Get(':id/graph')
  @Access('viewer')
  @ApiOperation({
    summary: "The job's ancestors and descendants and the edges among them (cut at 2,000 jobs: truncated)",
  })
  @ApiOkResponse({ type: JobGraphResponse })
  @ApiNotFoundResponse()
  graph(@Param('id', new IdPipe()) id: number): Promise<JobGraphResponse> {
    return this.jobs.graphOf(id);
  }

  @Patch(':id')
  @Access('admin')
  @ApiOperation({ summary: 'Change a job; the new schedule is live on every dispatcher within 1 s' })
  @ApiOkResponse(JOB)
  @ApiNotFoundResponse()
  @ApiConflictResponse({ description: 'name taken; or, without If-Match, the job kept changing during the merge' })
  @TakesIfMatch()
  @SendsJobETag()
  async update(
    @Param('id', new IdPipe()) id: number,
    @Body() dto: UpdateJobDto,
    @IfMatchHeader() ifMatch: IfMatch | undefined,
    @Req() req: Request,
  ): Promise<JobResponse> {
    const before = await this.jobs.get(id);
    const job = await this.jobs.update(id, dto, ifMatch);
    await this.recordJob(req, 'job.updated', before, job);
    return job;
  }

  @Delete(':id')
  @HttpCode(204)
  @Access('admin')
  @ApiOperation({
    summary: 'Delete a job: scheduling stops, its running runs are cancelled, its history stays',
    description:
      'A job other jobs depend on is a 409 naming them, unless force=true: then it is removed from their dependsOn ' +
      'in the same transaction, and a child left with no parent and no cron is paused (enabled: false).',
  })
  @ApiNoContentResponse()
  @ApiNotFoundResponse()
  @ApiConflictResponse({ description: 'other jobs depend on it (their ids and names in `message`); see force' })
  async remove(@Param('id', new IdPipe()) id: number, @Query() q: DeleteJobQuery, @Req() req: Request): Promise<void> {
    const before = await this.jobs.get(id);
    const childrenBefore = q.force
      ? await this.jobsBefore(before.children.map((c) => c.jobId))
      : new Map<number, JobResponse>();
    const detached = await this.jobs.remove(id, q.force ?? false);
    await this.recordJob(req, 'job.deleted', before, undefined);
    // Each child the delete changed, as a change of its own.
    for (const childId of detached) {
      const childBefore = childrenBefore.get(childId);
      const after = await this.jobs.get(childId).catch(() => undefined);
      if (childBefore && after) await this.recordJob(req, 'job.updated', childBefore, after);
    }
  }

  @Post(':id/trigger')
  @HttpCode(202)
  @Access('operator')
  @ApiOperation({
    summary: 'One run now, outside the schedule (trigger: manual); with cascade=true its finish starts its children',
  })
  @ApiAcceptedResponse({ schema: { properties: { runId: { type: 'integer' } } } })
  @ApiNotFoundResponse()
  async trigger(
    @Param('id', new IdPipe()) id: number,
    @Query() q: TriggerJobQuery,
    @Req() req: Request,
  ): Promise<{ runId: number }> {
    const cascade = q.cascade ?? false;
    const answer = await this.jobs.trigger(id, cascade);
    await this.audit.record(req, 'job.triggered', {
      targetType: 'run',
      targetId: answer.runId,
      jobId: id,
      ...(cascade ? { detail: 'cascade=true: its finish starts its children' } : {}),
    });
    return answer;
  }

  @Post(':id/pause')
  @HttpCode(200)
  @Access('operator')
  @ApiOperation({ summary: 'Pause: enabled=false' })
  @ApiOkResponse(JOB)
  @ApiNotFoundResponse()
  @TakesIfMatch()
  @SendsJobETag()
  async pause(
    @Param('id', new IdPipe()) id: number,
    @IfMatchHeader() ifMatch: IfMatch | undefined,
    @Req() req: Request,
  ): Promise<JobResponse> {
    const job = await this.jobs.pause(id, ifMatch);
    await this.audit.record(req, 'job.paused', { targetType: 'job', targetId: id, jobId: id });
    return job;
  }

  @Post(':id/resume')
  @HttpCode(200)
  @Access('operator')
  @ApiOperation({ summary: 'Resume; ticks that fell while paused never fire' })
  @ApiOkResponse(JOB)
  @ApiNotFoundResponse()
  @TakesIfMatch()
  @SendsJobETag()
  async resume(
    @Param('id', new IdPipe()) id: number,
    @IfMatchHeader() ifMatch: IfMatch | undefined,
    @Req() req: Request,
  ): Promise<JobResponse> {
    const job = await this.jobs.resume(id, ifMatch);
    await this.audit.record(req, 'job.resumed', { targetType: 'job', targetId: id, jobId: id });
    return job;
  }

  @Get(':id/runs')
  @Access('viewer')
  @ApiOperation({ summary: "A job's runs, newest first (readable after the job is deleted)" })
  @ApiOkResponse({ type: RunPage })
  listRuns(@Param('id', new IdPipe()) id: number, @Query() q: ListRunsQuery): Promise<RunPage> {
    return this.runs.list({ ...q, jobId: id });
  }

  /** The jobs of these ids as they read now (those that exist). */
  private async jobsBefore(ids: number[]): Promise<Map<number, JobResponse>> {
    const out = new Map<number, JobResponse>();
    for (const id of ids) {
      const job = await this.jobs.get(id).catch(() => undefined);
      if (job) out.set(id, job);
    }
    return out;
  }

  /** A job's change in the audit log: before and after, secret values masked. */
  private recordJob(req: Request, action: 'job.updated' | 'job.deleted', before: JobResponse, after?: JobResponse) {
    return this.audit.record(req, action, {
      targetType: 'job',
      targetId: before.id,
      jobId: before.id,
      before: maskJob(before),
      after: after === undefined ? undefined : maskJob(after),
    });
  }
}
