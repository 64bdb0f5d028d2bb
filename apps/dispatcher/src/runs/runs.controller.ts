import { Controller, Get, Headers, HttpCode, Logger, Param, Post, Query, Req, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiHeader,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiTags,
  ApiTooManyRequestsResponse,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { AuditLog } from '../audit/audit-log.service';
import { IdPipe } from '../common/id.pipe';
import { ListAllRunsQuery } from './dto/list-runs.query';
import { RunDetailResponse, RunPage } from './dto/run.response';
import { RunsService } from './runs.service';
import { Access } from '../auth/access.decorator';
import { Authenticator, CREDENTIAL_CACHE_MS } from '../auth/authenticator.service';
import { AuthedRequest, clientAddress } from '../auth/principal';
import { StreamSlots } from '../auth/stream-slots';
import { resumeOffset, RunOutputQuery, RunOutputResponse } from './dto/run-output.dto';
import { writeEventStream } from './output-events';
import { RunOutput } from './run-output.service';

@ApiTags('runs')
@ApiBadRequestResponse({ description: 'invalid input; `message` names every bad field' })
@Controller('api/runs')
export class RunsController {
  private readonly logger = new Logger(RunsController.name);

  constructor(
    private readonly runs: RunsService,
    private readonly audit: AuditLog,
    private readonly output: RunOutput,
    private readonly slots: StreamSlots,
    private readonly auth: Authenticator,
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
  @ApiOperation({ summary: 'One run, with its parent runs (upstream) and the runs its finish started (downstream)' })
  @ApiOkResponse({ type: RunDetailResponse })
  @ApiNotFoundResponse()
  get(@Param('id', new IdPipe()) id: number): Promise<RunDetailResponse> {
    return this.runs.get(id);
  }

  @Get(':id/output')
  @Access('viewer')
  @ApiOperation({
    summary: "The run's output: as recorded, or (follow=true) as it is written, as server-sent events",
    description:
      'Without follow: JSON, the output as recorded (head and tail, at most 64 KiB; null until the run ends).\n\n' +
      'With follow=true: text/event-stream. Event `output`, data `{offset, data, gap?}`: `data` is the next piece of the ' +
      'output and `offset` the byte offset (UTF-8, in the output with job secrets masked) of its first byte; the ' +
      "event's `id` is the offset just past it, so that an EventSource that reconnects (Last-Event-ID) gets only " +
      'what follows; `gap`, when present, is the bytes skipped before `offset` (not held any more, or not stored; ' +
      '`"unknown"` when the stored output can not tell). Event `end`, data `{status}`: the run is final; nothing ' +
      'follows. Event `unavailable`, data `{message}` (with `retry: 10000`): the executor refused (at most 8 ' +
      'followers per run; a credential may open at most 2 streams of one run, 429 beyond). A comment line `: ping` ' +
      'comes every 15 s. ' +
      'A pending run is waited for (up to 5 minutes, then the stream closes and the client reconnects); a final ' +
      'one sends its recorded output from the offset as one `output` event, then `end`. The executor holds the ' +
      'most recent 256 KiB of a running run: an offset older than that continues from the oldest byte held (the ' +
      'next event starts past the asked offset). Bearer token or session cookie (an EventSource sends the cookie).',
  })
  @ApiProduces('application/json', 'text/event-stream')
  @ApiHeader({
    name: 'Last-Event-ID',
    required: false,
    description: 'with follow: resume from this byte offset (the id of the last `output` event received)',
  })
  @ApiOkResponse({
    type: RunOutputResponse,
    description: 'JSON without follow; with follow=true, text/event-stream of `output` and `end` events',
  })
  @ApiNotFoundResponse()
  @ApiTooManyRequestsResponse({
    description: 'this credential has [dispatcher] max_streams streams open, or 2 output streams of this run',
  })
  async getOutput(
    @Param('id', new IdPipe()) id: number,
    @Query() q: RunOutputQuery,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const from = resumeOffset(lastEventId, q.offset);
    const run = await this.output.find(id);
    if (!q.follow) {
      res.json(RunOutputResponse.of(run));
      return;
    }
    const principal = (req as AuthedRequest).principal;
    const release = this.slots.take(principal, clientAddress(req));
    let releaseFollow: (() => void) | null = null;
    try {
      releaseFollow = this.slots.takeFollow(principal, clientAddress(req), id);
      await writeEventStream(res, (signal) => this.output.follow(run, from, signal), {
        // As /api/events: a stream ends soon after its token is revoked or its user disabled.
        stillValid: () => this.auth.stillValid(req),
        revalidateMs: CREDENTIAL_CACHE_MS,
        onError: (e) => this.logger.error({ msg: `output stream failed: ${e.message}`, runId: id }, e.stack),
        shutdown: this.output.shutdownSignal,
      });
    } finally {
      releaseFollow?.();
      release();
    }
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
