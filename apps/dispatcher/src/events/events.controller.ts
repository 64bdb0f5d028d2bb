import { Controller, MessageEvent, Req, Sse } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags, ApiTooManyRequestsResponse } from '@nestjs/swagger';
import type { Request } from 'express';
import { filter, finalize, from, interval, Observable, switchMap, takeUntil } from 'rxjs';
import { Authenticator, CREDENTIAL_CACHE_MS } from '../auth/authenticator.service';
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
    private readonly auth: Authenticator,
  ) {}

  @Sse()
  @Access('viewer')
  @ApiOperation({ summary: 'Server-sent events of job and run changes' })
  @ApiOkResponse({ description: 'text/event-stream; events `job` {action, jobId} and `run` {runId, jobId, status}' })
  @ApiTooManyRequestsResponse({ description: 'this credential has [dispatcher] max_streams streams open' })
  stream(@Req() req: Request): Observable<MessageEvent> {
    const release = this.slots.take((req as AuthedRequest).principal, clientAddress(req));
    // The credential is read again as often as the credential cache turns over: a stream ends within about two
    // of those periods of its token being revoked or its user disabled.
    const revoked = interval(CREDENTIAL_CACHE_MS).pipe(
      // A database that does not answer ends no stream: the credential is judged when it answers again.
      switchMap(() => from(this.auth.stillValid(req).catch(() => true))),
      filter((ok) => !ok),
    );
    return this.events.stream().pipe(takeUntil(revoked), finalize(release));
  }
}
