import { IsIn, IsOptional } from 'class-validator';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { RUN_STATUSES, RunStatus } from '@app/persistence';
import { PageQuery, QueryInt } from '../../common/query.decorators';

export class ListRunsQuery extends PageQuery {
  @ApiPropertyOptional({ enum: RUN_STATUSES })
  @IsOptional()
  @IsIn(RUN_STATUSES)
  status?: RunStatus;
}

export class ListAllRunsQuery extends ListRunsQuery {
  @ApiPropertyOptional({ minimum: 1 })
  @IsOptional()
  @QueryInt(1, 2_147_483_647)
  jobId?: number;
}
