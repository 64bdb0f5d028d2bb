import { IsIn, IsOptional } from 'class-validator';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { RUN_STATUSES, RunStatus } from '@app/persistence';
import { PageQuery, QueryInt } from '../../common/query.decorators';

/** Run lists page by offset up to here; deeper, by beforeId (an offset costs the rows it skips). */
export const MAX_RUN_OFFSET = 10_000;

export class ListRunsQuery extends PageQuery {
  @ApiPropertyOptional({ minimum: 0, maximum: MAX_RUN_OFFSET, default: 0, description: 'deeper pages: beforeId' })
  @QueryInt(0, MAX_RUN_OFFSET, 'page deeper with beforeId')
  override offset: number = 0;

  @ApiPropertyOptional({ enum: RUN_STATUSES })
  @IsOptional()
  @IsIn(RUN_STATUSES)
  status?: RunStatus;

  @ApiPropertyOptional({
    minimum: 1,
    description:
      'keyset paging: only runs with a smaller id; pass the last id of the previous page (cheap at any depth, ' +
      'unlike a large offset)',
  })
  @IsOptional()
  @QueryInt(1, Number.MAX_SAFE_INTEGER)
  beforeId?: number;
}

export class ListAllRunsQuery extends ListRunsQuery {
  @ApiPropertyOptional({ minimum: 1 })
  @IsOptional()
  @QueryInt(1, Number.MAX_SAFE_INTEGER)
  jobId?: number;
}
