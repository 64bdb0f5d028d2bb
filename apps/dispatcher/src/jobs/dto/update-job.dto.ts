import { PartialType } from '@nestjs/swagger';
import { CreateJobDto } from './create-job.dto';

/**
 * Any subset of the job's fields; the merged job is validated as a whole (a shell job keeps needing a command).
 * A field left out is unchanged; `null` is a value, refused where the job has none (skipNullProperties: false, or
 * PartialType's IsOptional would let null through to a NOT NULL column).
 */
export class UpdateJobDto extends PartialType(CreateJobDto, { skipNullProperties: false }) {}
