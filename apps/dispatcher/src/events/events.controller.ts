import { Controller, MessageEvent, Req, Sse } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags, ApiTooManyRequestsResponse } from '@nestjs/swagger';
import type { Request } from 'express';
import { finalize, Observable } from 'rxjs';
import { Access } from '../auth/access.decorator';
import { AuthedRequest, clientAddress } from '../auth/principal';
import { StreamSlots } from '../auth/stream-slots';
import { EventsService } from './events.service';

@ApiTags('events')
@Controller('api/events')
export class EventsController {
  constructor(
    private readonly events: EventsService,
    private readonly slots: StreamSlots,
  ) {}

  @Sse()
  @Access('viewer')
  @ApiOperation({ summary: 'Server-sent events of job and run changes' })
  @ApiOkResponse({ description: 'text/event-stream; events `job` {action, jobId} and `run` {runId, jobId, status}' })
  @ApiTooManyRequestsResponse({ description: 'this credential has [dispatcher] max_streams streams open' })
  stream(@Req() req: Request): Observable<MessageEvent> {
    const release = this.slots.take((req as AuthedRequest).principal, clientAddress(req));
    return this.events.stream().pipe(finalize(release));
  }
}
