import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsEmail,
  IsBoolean,
  IsIn,
  IsInt,
  IsNotEmpty,
  IsObject,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  CONCURRENCY_POLICIES,
  ConcurrencyPolicy,
  DEFAULT_DEPENDENCY_WINDOW_MS,
  DEPENDENCY_MODES,
  DependencyMode,
  MAX_DEPENDENCY_DEPTH,
  MAX_PARENTS,
  HTTP_METHODS,
  HttpMethod,
  HttpSpecInput,
  JOB_TYPES,
  JobType,
  JobNotifyJson,
  MISFIRE_POLICIES,
  MisfirePolicy,
  NOTIFY_EVENTS,
  NotifyEvent,
  ROUTINGS,
  Routing,
} from '@app/contract';
import { IsNotNull, IsOptionalNotNull } from '../../common/api-validation.pipe';
import { DependencyDto } from './dependency.dto';
import { ENV_VALUE, HasUniqueJobIds, HEADER_VALUE, IsStringMap, IsTimeZone } from './job-validators';

/** Names as for `env` and `http.headers` today. */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
export const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$/;
/** A week: the longest `dependencyWindowMs`. */
export const MAX_DEPENDENCY_WINDOW_MS = 604_800_000;
/** Characters of one secret value: a key, a token, a certificate fits; a file does not belong here. */
export const SECRET_VALUE_MAX = 16_384;

const SECRET_DOC =
  'write-only: stored encrypted and read back with every value as "***". On PATCH a value "***" keeps the stored ' +
  'one, another value replaces it, a name left out is removed, null removes all, and leaving the field out keeps all';

export class HttpSpecDto implements HttpSpecInput {
  @ApiProperty({ enum: HTTP_METHODS, example: 'GET' })
  @IsNotNull()
  @IsIn(HTTP_METHODS)
  method!: HttpMethod;

  @ApiProperty({ example: 'http://127.0.0.1:9000/hooks/report' })
  @IsNotNull()
  @IsUrl(
    { protocols: ['http', 'https'], require_protocol: true, require_tld: false },
    { message: '$property must be an http or https URL' },
  )
  @MaxLength(2048)
  url!: string;

  // headers, body and expectStatus have defaults (httpSpecWithDefaults), for which null stands too.
  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'string' },
    nullable: true,
    example: { Authorization: 'Bearer …' },
  })
  @IsOptional()
  @IsStringMap(HEADER_NAME, 64, { values: HEADER_VALUE })
  headers?: Record<string, string>;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'string', maxLength: SECRET_VALUE_MAX },
    nullable: true,
    example: { Authorization: 'Bearer …' },
    description: `${SECRET_DOC}. A name may not also be in \`headers\` (case-insensitive); a secret header wins over a plain one and is dropped on a redirect to another origin`,
  })
  @IsOptional()
  @IsStringMap(HEADER_NAME, 64, { maxValueLength: SECRET_VALUE_MAX, values: HEADER_VALUE })
  secretHeaders?: Record<string, string> | null;

  @ApiPropertyOptional({ example: '', maxLength: 65536, nullable: true })
  @IsOptional()
  @IsString()
  @MaxLength(65536)
  body?: string;

  @ApiPropertyOptional({
    type: [Number],
    nullable: true,
    example: [200, 204],
    description: 'success statuses; default 200-299',
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(100)
  @IsInt({ each: true })
  @Min(100, { each: true })
  @Max(599, { each: true })
  expectStatus?: number[];
}

const NOTIFY_URL_DOC =
  'http(s) URL; a credential (a Slack URL above all): read back masked as scheme://host/***. On PATCH "***" or the ' +
  "masked value as read keeps the stored URL. Left out: [notify]'s. Must pass the [executor] http_allow/http_deny " +
  'check when delivered';

/** A job's own notification settings; a field left out falls back to `[notify]`. */
export class NotifyDto implements JobNotifyJson {
  @ApiProperty({ enum: NOTIFY_EVENTS, isArray: true, example: ['failed', 'recovered'] })
  @IsNotNull()
  @IsArray()
  @ArrayMaxSize(NOTIFY_EVENTS.length)
  @IsIn(NOTIFY_EVENTS, { each: true, message: `each value in $property must be one of ${NOTIFY_EVENTS.join(', ')}` })
  on!: NotifyEvent[];

  @ApiPropertyOptional({ example: 'https://hooks.example.com/gocron', description: NOTIFY_URL_DOC })
  @IsOptionalNotNull()
  @IsString()
  @MaxLength(2048)
  @ValidateIf((_o: object, v: unknown) => v !== '***')
  @IsUrl(
    { protocols: ['http', 'https'], require_protocol: true, require_tld: false },
    { message: '$property must be an http or https URL' },
  )
  webhook?: string;

  @ApiPropertyOptional({ example: 'https://hooks.slack.com/services/T000/B000/XXXX', description: NOTIFY_URL_DOC })
  @IsOptionalNotNull()
  @IsString()
  @MaxLength(2048)
  @ValidateIf((_o: object, v: unknown) => v !== '***')
  @IsUrl(
    { protocols: ['http', 'https'], require_protocol: true, require_tld: false },
    { message: '$property must be an http or https URL' },
  )
  slack?: string;

  @ApiPropertyOptional({
    type: [String],
    example: ['ops@example.com'],
    description: 'recipients (needs [notify] smtp_url); left out: [notify] mail_to',
  })
  @IsOptionalNotNull()
  @IsArray()
  @ArrayMaxSize(50)
  @MaxLength(254, { each: true })
  @IsEmail({ require_tld: false }, { each: true, message: 'each value in $property must be an email address' })
  email?: string[];
}

export class CreateJobDto {
  @ApiProperty({ minLength: 1, maxLength: 128, example: 'nightly-report' })
  @IsNotNull()
  @IsString()
  @IsNotEmpty()
  @MaxLength(128)
  name!: string;

  @ApiPropertyOptional({ maxLength: 1024, default: '' })
  @IsOptionalNotNull()
  @IsString()
  @MaxLength(1024)
  description?: string;

  @ApiPropertyOptional({
    example: '*/5 * * * *',
    default: '',
    description:
      '5 fields, or 6 with leading seconds; @yearly @annually @monthly @weekly @daily @midnight @hourly; @every 90s. ' +
      'N/step runs to the end of the field (day-of-week 1/2 = Mon, Wed, Fri); 7 is Sunday (5-7 = Fri-Sun). ' +
      'L, W and # are refused. Empty (or left out) only with a non-empty `dependsOn`: the job then runs only when ' +
      'its parents start it ("a job needs a cron expression or dependsOn" otherwise)',
  })
  @IsOptionalNotNull()
  @IsString()
  @MaxLength(255)
  cron?: string;

  @ApiPropertyOptional({
    default: 'UTC',
    example: 'Europe/Paris',
    description: 'IANA time zone the cron fields are read in',
  })
  @IsOptionalNotNull()
  @IsTimeZone()
  timezone?: string;

  @ApiProperty({ enum: JOB_TYPES })
  @IsNotNull()
  @IsIn(JOB_TYPES)
  type!: JobType;

  // command and http may be null (none), as a job reads back, where its type does not use them; a PATCH without a
  // type leaves that to JobsService, which knows the stored type.
  @ApiPropertyOptional({
    example: 'echo hello',
    nullable: true,
    description: 'required for shell jobs; run with /bin/sh -c',
  })
  @ValidateIf((o: CreateJobDto) => o.type === 'shell' || (o.command !== undefined && o.command !== null))
  @IsString()
  @IsNotEmpty({ message: 'command is required for a shell job' })
  @MaxLength(65536)
  command?: string;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'string' },
    default: {},
    example: { LANG: 'C.UTF-8' },
  })
  @IsOptionalNotNull()
  @IsStringMap(ENV_NAME, 128, { values: ENV_VALUE })
  env?: Record<string, string>;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'string', maxLength: SECRET_VALUE_MAX },
    nullable: true,
    example: { DB_PASSWORD: 's3cr3t' },
    description: `${SECRET_DOC}. A name may not also be in \`env\``,
  })
  @IsOptional()
  @IsStringMap(ENV_NAME, 128, { maxValueLength: SECRET_VALUE_MAX, values: ENV_VALUE })
  secretEnv?: Record<string, string> | null;

  @ApiPropertyOptional({ type: HttpSpecDto, nullable: true, description: 'required for http jobs' })
  @ValidateIf((o: CreateJobDto) => o.type === 'http' || (o.http !== undefined && o.http !== null))
  @ValidateNested()
  @Type(() => HttpSpecDto)
  @IsNotEmpty({ message: 'http is required for an http job' })
  http?: HttpSpecDto;

  @ApiPropertyOptional({ default: 60000, minimum: 1, maximum: 86400000 })
  @IsOptionalNotNull()
  @IsInt()
  @Min(1)
  @Max(86_400_000)
  timeoutMs?: number;

  @ApiPropertyOptional({ default: 0, minimum: 0, maximum: 10 })
  @IsOptionalNotNull()
  @IsInt()
  @Min(0)
  @Max(10)
  retries?: number;

  @ApiPropertyOptional({ default: 1000, minimum: 0, maximum: 3600000, description: 'doubles each attempt' })
  @IsOptionalNotNull()
  @IsInt()
  @Min(0)
  @Max(3_600_000)
  retryBackoffMs?: number;

  @ApiPropertyOptional({ enum: CONCURRENCY_POLICIES, default: 'forbid' })
  @IsOptionalNotNull()
  @IsIn(CONCURRENCY_POLICIES)
  concurrency?: ConcurrencyPolicy;

  @ApiPropertyOptional({ enum: MISFIRE_POLICIES, default: 'once' })
  @IsOptionalNotNull()
  @IsIn(MISFIRE_POLICIES)
  misfire?: MisfirePolicy;

  @ApiPropertyOptional({ default: 'default', pattern: '^[A-Za-z0-9_.-]{1,64}$' })
  @IsOptionalNotNull()
  @IsString()
  @Matches(/^[A-Za-z0-9_.-]{1,64}$/, { message: 'group must be 1-64 characters of A-Z a-z 0-9 _ . -' })
  group?: string;

  @ApiPropertyOptional({ enum: ROUTINGS, default: 'round_robin' })
  @IsOptionalNotNull()
  @IsIn(ROUTINGS)
  routing?: Routing;

  @ApiPropertyOptional({ default: true })
  @IsOptionalNotNull()
  @IsBoolean()
  enabled?: boolean;

  @ApiPropertyOptional({
    type: [DependencyDto],
    nullable: true,
    maxItems: MAX_PARENTS,
    default: [],
    example: [{ jobId: 12, on: 'success' }],
    description:
      `the job's parents (at most ${MAX_PARENTS}, each job once, not the job itself): a finished run of a parent that ` +
      'meets `on` starts this job (with `dependencyMode`). Refused with a 400 when a parent does not exist, when ' +
      `the graph would have a cycle (the message names it) or a chain longer than ${MAX_DEPENDENCY_DEPTH} jobs. ` +
      'On PATCH, [] or null removes every parent (the job then needs a cron)',
  })
  @IsOptional()
  @IsArray({ message: 'dependsOn must be an array of {jobId, on}' })
  @ArrayMaxSize(MAX_PARENTS, { message: `dependsOn: at most ${MAX_PARENTS} parents` })
  @HasUniqueJobIds()
  @IsObject({ each: true, message: 'each value in dependsOn must be an object {jobId, on}' })
  @ValidateNested({ each: true })
  @Type(() => DependencyDto)
  dependsOn?: DependencyDto[] | null;

  @ApiPropertyOptional({
    enum: DEPENDENCY_MODES,
    default: 'all',
    description:
      'all: the job runs once every parent has a run that meets its condition for the same occasion; any: once per ' +
      'parent run that meets its condition',
  })
  @IsOptionalNotNull()
  @IsIn(DEPENDENCY_MODES)
  dependencyMode?: DependencyMode;

  @ApiPropertyOptional({
    default: DEFAULT_DEPENDENCY_WINDOW_MS,
    minimum: 1000,
    maximum: MAX_DEPENDENCY_WINDOW_MS,
    description:
      '`all` with parents on different schedules: parent runs within this many milliseconds of each other make one ' +
      'occasion',
  })
  @IsOptionalNotNull()
  @IsInt()
  @Min(1000)
  @Max(MAX_DEPENDENCY_WINDOW_MS)
  dependencyWindowMs?: number;

  @ApiPropertyOptional({
    type: NotifyDto,
    nullable: true,
    description: "null (the default): the [notify] defaults; on PATCH, null removes the job's own settings",
  })
  @IsOptional()
  // An array would pass ValidateNested and read as settings with nothing in them.
  @IsObject({ message: 'notify must be an object: {on, webhook, slack, email}' })
  @ValidateNested()
  @Type(() => NotifyDto)
  notify?: NotifyDto | null;
}
