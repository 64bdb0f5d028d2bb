import { PartialType } from '@nestjs/swagger';
import { CreateJobDto } from './create-job.dto';

/** Any subset of the job's fields; the merged job is validated as a whole (a shell job keeps needing a command). */
export class UpdateJobDto extends PartialType(CreateJobDto) {}
