import { Controller, MessageEvent, Sse } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Observable } from 'rxjs';
import { EventsService } from './events.service';

@ApiTags('events')
@Controller('api/events')
export class EventsController {
  constructor(private readonly events: EventsService) {}

  @Sse()
  @ApiOperation({ summary: 'Server-sent events of job and run changes' })
  @ApiOkResponse({ description: 'text/event-stream; events `job` {action, jobId} and `run` {runId, jobId, status}' })
  stream(): Observable<MessageEvent> {
    return this.events.stream();
  }
}
