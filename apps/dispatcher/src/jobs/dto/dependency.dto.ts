import { ApiProperty } from '@nestjs/swagger';
import { IsIn, IsInt, Max, Min } from 'class-validator';
import { DEPENDENCY_CONDITIONS, DependencyCondition, JobDependencyJson } from '@app/contract';
import { IsNotNull } from '../../common/api-validation.pipe';

/** One parent of a job: which job, and which end of its run starts this one. */
export class DependencyDto implements JobDependencyJson {
  @ApiProperty({ minimum: 1, example: 12, description: 'the parent job' })
  @IsNotNull()
  @IsInt()
  @Min(1)
  @Max(Number.MAX_SAFE_INTEGER)
  jobId!: number;

  @ApiProperty({
    enum: DEPENDENCY_CONDITIONS,
    example: 'success',
    description:
      'success: the parent run succeeded; failure: its final attempt failed, timed out or was lost; always: either. ' +
      'skipped, missed and cancelled runs start nothing',
  })
  @IsNotNull()
  @IsIn(DEPENDENCY_CONDITIONS)
  on!: DependencyCondition;
}
