import { IsIn, IsOptional, IsString, MaxLength } from 'class-validator';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { RUN_STATUSES, RunStatus } from '@app/persistence';
import { PageQuery, QueryBoolean } from '../../common/query.decorators';

export class ListJobsQuery extends PageQuery {
  @ApiPropertyOptional({ description: 'substring of name or description' })
  @IsOptional()
  @IsString()
  @MaxLength(128)
  q?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(64)
  group?: string;

  @ApiPropertyOptional({ enum: ['true', 'false'] })
  @IsOptional()
  @QueryBoolean()
  enabled?: boolean;

  @ApiPropertyOptional({ enum: RUN_STATUSES, description: "status of the job's newest run" })
  @IsOptional()
  @IsIn(RUN_STATUSES)
  lastStatus?: RunStatus;
}
