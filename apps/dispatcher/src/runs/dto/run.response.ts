import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { RUN_STATUSES, RUN_TRIGGERS } from '@app/contract';
import type { PageJson, RunDetailJson, RunJson, RunLinkJson, RunStatus, RunTrigger } from '@app/contract';
import type { RunEntity, RunRef } from '@app/persistence';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

// `implements` catches a contract field the class lacks; `of` returning RunJson catches one the class or the
// literal adds, since its result must also pass as a RunResponse where the services return it.
export class RunResponse implements RunJson {
  @ApiProperty() id!: number;
  @ApiProperty() jobId!: number;
  @ApiProperty({ description: 'the tick this run is for (whole seconds for scheduled runs)' }) scheduledAt!: string;
  @ApiProperty({ enum: RUN_TRIGGERS }) trigger!: RunTrigger;
  @ApiProperty() attempt!: number;
  @ApiProperty({ enum: RUN_STATUSES }) status!: RunStatus;
  @ApiPropertyOptional({ nullable: true, type: String }) executorId!: string | null;
  @ApiPropertyOptional({ nullable: true, type: String }) dispatcherId!: string | null;
  @ApiPropertyOptional({ nullable: true, type: String }) startedAt!: string | null;
  @ApiPropertyOptional({ nullable: true, type: String }) finishedAt!: string | null;
  @ApiPropertyOptional({ nullable: true, type: Number }) durationMs!: number | null;
  @ApiPropertyOptional({ nullable: true, type: Number }) exitCode!: number | null;
  @ApiPropertyOptional({ nullable: true, type: Number }) httpStatus!: number | null;
  @ApiPropertyOptional({ nullable: true, type: String, description: 'at most 64 KiB: head and tail' }) output!:
    string | null;
  @ApiProperty() outputTruncated!: boolean;
  @ApiPropertyOptional({ nullable: true, type: String }) error!: string | null;
  @ApiProperty({
    description:
      'skipped records: the ticks this record stands for (consecutive forbid skips behind one run folded into one ' +
      'record, or the ticks a misfire policy dropped), from scheduledAt to skippedUntil; 0 for other statuses',
  })
  skippedCount!: number;
  @ApiPropertyOptional({ nullable: true, type: String, description: 'a skipped record of several ticks: its last' })
  skippedUntil!: string | null;
  @ApiProperty({
    type: [Number],
    description: 'a dependency run: the parent runs whose finish started it (its retries share them); else empty',
  })
  parentRunIds!: number[];

  static of(r: RunEntity, parentRunIds: readonly number[] = []): RunJson {
    return {
      id: r.id,
      jobId: r.jobId,
      // A record of several ticks is shown from its first: the row's scheduled_at is its last (its ledger order).
      scheduledAt: new Date(r.skippedFrom ?? r.scheduledAt).toISOString(),
      trigger: r.trigger,
      attempt: r.attempt,
      status: r.status,
      executorId: r.executorId,
      dispatcherId: r.dispatcherId,
      startedAt: iso(r.startedAt),
      finishedAt: iso(r.finishedAt),
      durationMs: r.durationMs,
      exitCode: r.exitCode,
      httpStatus: r.httpStatus,
      output: r.output,
      outputTruncated: Boolean(r.outputTruncated),
      error: r.error,
      skippedCount: r.status === 'skipped' ? Math.max(1, r.skippedCount ?? 0) : 0,
      skippedUntil:
        r.status === 'skipped' && r.skippedFrom !== null && r.skippedFrom !== undefined ? iso(r.scheduledAt) : null,
      parentRunIds: [...parentRunIds],
    };
  }
}

export class RunLinkResponse implements RunLinkJson {
  @ApiProperty() id!: number;
  @ApiProperty() jobId!: number;
  @ApiPropertyOptional({ nullable: true, type: String, description: 'null: the job has been deleted' })
  jobName!: string | null;
  @ApiProperty({ enum: RUN_STATUSES }) status!: RunStatus;
  @ApiProperty() scheduledAt!: string;
  @ApiPropertyOptional({ nullable: true, type: String }) finishedAt!: string | null;

  static of(r: RunRef, jobName: string | null): RunLinkJson {
    return {
      id: r.id,
      jobId: r.jobId,
      jobName,
      status: r.status,
      scheduledAt: new Date(r.scheduledAt).toISOString(),
      finishedAt: iso(r.finishedAt),
    };
  }
}

/** GET /api/runs/:id: the run with the runs beside it in the dependency graph. */
export class RunDetailResponse extends RunResponse implements RunDetailJson {
  @ApiProperty({ type: [RunLinkResponse], description: 'the parent runs whose finish started this run' })
  upstream!: RunLinkResponse[];
  @ApiProperty({
    type: [RunLinkResponse],
    description: "the runs this run's finish started (the newest attempt of each, one per executor with broadcast)",
  })
  downstream!: RunLinkResponse[];
}

export class RunPage implements PageJson<RunJson> {
  @ApiProperty({ type: [RunResponse] }) items!: RunResponse[];
  @ApiProperty({ description: 'exact up to 10,000; beyond, 10,000 with totalCapped: true' }) total!: number;
  @ApiProperty({ description: 'true when there are more than 10,000 and `total` says 10,000' })
  totalCapped!: boolean;
}
