import { BadRequestException } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional } from 'class-validator';
import { RUN_STATUSES } from '@app/contract';
import type { RunStatus } from '@app/contract';
import type { RunEntity } from '@app/persistence';
import { QueryBoolean, QueryInt } from '../../common/query.decorators';

export class RunOutputQuery {
  @ApiPropertyOptional({
    description: 'true: server-sent events (text/event-stream) of the output as it is written, until the run ends',
  })
  @IsOptional()
  @QueryBoolean()
  follow?: boolean;

  @ApiPropertyOptional({
    minimum: 0,
    description: 'with follow: the byte offset to start from (a Last-Event-ID header wins over it)',
  })
  @IsOptional()
  @QueryInt(0, Number.MAX_SAFE_INTEGER)
  offset?: number;
}

/** The output as recorded: the same fields as on the run (null and head-and-tail until and after it ends). */
export class RunOutputResponse {
  @ApiProperty() runId!: number;
  @ApiProperty({ enum: RUN_STATUSES }) status!: RunStatus;
  @ApiPropertyOptional({
    nullable: true,
    type: String,
    description: 'at most 64 KiB: head and tail; recorded when the run ends (null before: follow=true streams it)',
  })
  output!: string | null;
  @ApiProperty() outputTruncated!: boolean;

  static of(r: RunEntity): RunOutputResponse {
    return { runId: r.id, status: r.status, output: r.output, outputTruncated: Boolean(r.outputTruncated) };
  }
}

/**
 * Where a follow starts: the Last-Event-ID an EventSource sends back on reconnecting (the id of an `output` event is
 * the offset just past its data), else `?offset=`, else 0. A header that is not a byte offset is a 400 naming it.
 */
export function resumeOffset(lastEventId: string | undefined, offset: number | undefined): number {
  if (lastEventId !== undefined && lastEventId !== '') {
    const n = Number(lastEventId);
    if (!/^\d{1,16}$/.test(lastEventId) || !Number.isSafeInteger(n)) {
      throw new BadRequestException('Last-Event-ID must be a non-negative integer (a byte offset of the output)');
    }
    return n;
  }
  return offset ?? 0;
}
