import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  CONCURRENCY_POLICIES,
  DEPENDENCY_CONDITIONS,
  DEPENDENCY_MODES,
  JOB_TYPES,
  MISFIRE_POLICIES,
  ROUTINGS,
  RUN_STATUSES,
} from '@app/contract';
import type {
  ConcurrencyPolicy,
  DependencyCondition,
  DependencyMode,
  JobChildJson,
  JobGraphJson,
  JobHttpJson,
  JobJson,
  JobNotifyJson,
  JobType,
  LastRunJson,
  MisfirePolicy,
  PageJson,
  Routing,
  RunStatus,
} from '@app/contract';
import { maskedSecrets } from '@app/persistence';
import type { JobChild, JobEntity, LastRun } from '@app/persistence';
import { maskedNotify } from '../../notifications/notify-settings';
import { HttpSpecDto, NotifyDto } from './create-job.dto';
import { DependencyDto } from './dependency.dto';

export class LastRunResponse implements LastRunJson {
  @ApiProperty() id!: number;
  @ApiProperty({ enum: RUN_STATUSES }) status!: RunStatus;
  @ApiProperty({ example: '2026-11-25T12:00:00.000Z' }) scheduledAt!: string;
}

export class JobChildResponse implements JobChildJson {
  @ApiProperty({ description: 'the child job' }) jobId!: number;
  @ApiProperty() name!: string;
  @ApiProperty({ enum: DEPENDENCY_CONDITIONS, description: "the child's condition on this job" })
  on!: DependencyCondition;
  @ApiProperty({ description: 'a disabled child ignores its parents' }) enabled!: boolean;
}

// `implements` catches a contract field the class lacks; `of` returning JobJson catches one the class or the
// literal adds, since its result must also pass as a JobResponse where the services return it.
export class JobResponse implements JobJson {
  @ApiProperty() id!: number;
  @ApiProperty() name!: string;
  @ApiProperty() description!: string;
  @ApiProperty({ example: '*/5 * * * *' }) cron!: string;
  @ApiProperty({ example: 'UTC' }) timezone!: string;
  @ApiProperty({ enum: JOB_TYPES }) type!: JobType;
  @ApiPropertyOptional({ nullable: true, type: String }) command!: string | null;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } }) env!: Record<string, string>;
  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'string' },
    example: { DB_PASSWORD: '***' },
    description: 'write-only: the names of the secret variables, each with the value "***"',
  })
  secretEnv!: Record<string, string>;
  @ApiPropertyOptional({
    nullable: true,
    type: HttpSpecDto,
    description: '`secretHeaders` is write-only: the names, each with the value "***"',
  })
  http!: JobHttpJson | null;
  @ApiProperty() timeoutMs!: number;
  @ApiProperty() retries!: number;
  @ApiProperty() retryBackoffMs!: number;
  @ApiProperty({ enum: CONCURRENCY_POLICIES }) concurrency!: ConcurrencyPolicy;
  @ApiProperty({ enum: MISFIRE_POLICIES }) misfire!: MisfirePolicy;
  @ApiProperty() group!: string;
  @ApiProperty({ enum: ROUTINGS }) routing!: Routing;
  @ApiProperty() enabled!: boolean;
  @ApiPropertyOptional({
    nullable: true,
    type: NotifyDto,
    description: 'null: the [notify] defaults. `webhook` and `slack` are masked (scheme://host/***)',
  })
  notify!: JobNotifyJson | null;
  @ApiProperty({ type: [DependencyDto], description: "the job's parents; empty: none (then `cron` is set)" })
  dependsOn!: DependencyDto[];
  @ApiProperty({ enum: DEPENDENCY_MODES }) dependencyMode!: DependencyMode;
  @ApiProperty({ description: '`all` with parents on different schedules: one occasion spans at most this many ms' })
  dependencyWindowMs!: number;
  @ApiProperty({ type: [JobChildResponse], description: 'read only: the jobs that name this one in their dependsOn' })
  children!: JobChildResponse[];
  @ApiProperty({
    description: 'bumped by every change of the definition; also sent as `ETag: "<version>"`, for If-Match',
    example: 3,
  })
  version!: number;
  @ApiProperty() createdAt!: string;
  @ApiProperty() updatedAt!: string;
  @ApiPropertyOptional({
    nullable: true,
    type: String,
    description: 'next fire time (null when paused, or without a cron: a job its parents start)',
  })
  nextRunAt!: string | null;
  @ApiPropertyOptional({ nullable: true, type: LastRunResponse }) lastRun!: LastRunResponse | null;
  @ApiProperty({
    nullable: true,
    type: String,
    readOnly: true,
    description:
      "the dispatcher planning the job (the holder of its shard in etcd); null while paused, or while this dispatcher's view of etcd is not live",
  })
  owner!: string | null;

  static of(
    job: JobEntity,
    lastRun: LastRun | null | undefined,
    nextRunAt: number | null,
    children: readonly JobChild[] = [],
    owner: string | null = null,
  ): JobJson {
    return {
      id: job.id,
      name: job.name,
      description: job.description,
      cron: job.cron,
      timezone: job.timezone,
      type: job.type,
      command: job.command,
      env: job.env ?? {},
      secretEnv: maskedSecrets(job, 'env'),
      http: job.http ? { ...job.http, secretHeaders: maskedSecrets(job, 'headers') } : null,
      timeoutMs: job.timeoutMs,
      retries: job.retries,
      retryBackoffMs: job.retryBackoffMs,
      concurrency: job.concurrency,
      misfire: job.misfire,
      group: job.group,
      routing: job.routing,
      enabled: job.enabled,
      notify: maskedNotify(job.notify),
      dependsOn: (job.dependsOn ?? []).map((d) => ({ jobId: d.jobId, on: d.on })),
      dependencyMode: job.dependencyMode,
      dependencyWindowMs: job.dependencyWindowMs,
      children: children.map((c) => ({ jobId: c.jobId, name: c.name, on: c.on, enabled: c.enabled })),
      version: job.version,
      createdAt: new Date(job.createdAt).toISOString(),
      updatedAt: new Date(job.updatedAt).toISOString(),
      nextRunAt: job.enabled && nextRunAt !== null ? new Date(nextRunAt).toISOString() : null,
      lastRun: lastRun
        ? { id: lastRun.id, status: lastRun.status, scheduledAt: new Date(lastRun.scheduledAt).toISOString() }
        : null,
      owner,
    };
  }
}

export class JobPage implements PageJson<JobJson> {
  @ApiProperty({ type: [JobResponse] }) items!: JobResponse[];
  @ApiProperty({ description: 'exact up to 10,000; beyond, 10,000 with totalCapped: true' }) total!: number;
  @ApiProperty({ description: 'true when there are more than 10,000 and `total` says 10,000' })
  totalCapped!: boolean;
}

class JobGraphNodeResponse {
  @ApiProperty() id!: number;
  @ApiProperty() name!: string;
  @ApiProperty() enabled!: boolean;
  @ApiProperty({ description: 'empty: the job runs only when its parents start it' }) cron!: string;
  @ApiProperty({ enum: DEPENDENCY_MODES }) dependencyMode!: DependencyMode;
  @ApiProperty({
    description: 'edges from the job (shortest): negative for an ancestor, positive for a descendant, 0 the job itself',
  })
  level!: number;
}

class JobGraphEdgeResponse {
  @ApiProperty() parentId!: number;
  @ApiProperty() childId!: number;
  @ApiProperty({ enum: DEPENDENCY_CONDITIONS }) on!: DependencyCondition;
}

export class JobGraphResponse implements JobGraphJson {
  @ApiProperty() jobId!: number;
  @ApiProperty({ type: [JobGraphNodeResponse], description: 'the job, its ancestors and its descendants, by level' })
  nodes!: JobGraphNodeResponse[];
  @ApiProperty({ type: [JobGraphEdgeResponse], description: 'parent → child edges among the nodes' })
  edges!: JobGraphEdgeResponse[];
  @ApiProperty({ description: 'more than 2,000 jobs: the graph is cut there (the levels nearest the job are kept)' })
  truncated!: boolean;
}
