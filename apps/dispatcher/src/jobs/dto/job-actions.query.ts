import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional } from 'class-validator';
import { QueryBoolean } from '../../common/query.decorators';

/** DELETE /api/jobs/:id?force= */
export class DeleteJobQuery {
  @ApiPropertyOptional({
    enum: ['true', 'false'],
    default: 'false',
    description:
      'a job other jobs depend on is a 409 naming them; with true it is removed from their dependsOn in the same ' +
      'transaction, and a child left with no parent and no cron is paused',
  })
  @IsOptional()
  @QueryBoolean()
  force?: boolean;
}

/** POST /api/jobs/:id/trigger?cascade= */
export class TriggerJobQuery {
  @ApiPropertyOptional({
    enum: ['true', 'false'],
    default: 'false',
    description:
      "true: the run's finish starts the job's children as a scheduled run's would; false: a manual run starts none",
  })
  @IsOptional()
  @QueryBoolean()
  cascade?: boolean;
}
