import { randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { SecretBox } from '@app/common';
import { httpSpecWithDefaults } from '@app/contract';
import { CronSchedule } from '@app/cron';
import { ApiReads, HttpSpec, JobChanges, JobEntity, JobsRepository, NewJob, RunsRepository } from '@app/persistence';

type JobFields = Omit<NewJob, 'scheduleSetAt' | 'lastTickAt' | 'nextRunAt'>;
import { DomainError } from '../common/domain-error';
import { EventsService } from '../events/events.service';
import { RunCanceller } from '../launching/run-canceller.service';
import { RunLauncher } from '../launching/run-launcher.service';
import { SchedulerService } from '../scheduling/scheduler.service';
import { CreateJobDto } from './dto/create-job.dto';
import { JobPage, JobResponse } from './dto/job.response';
import { ListJobsQuery } from './dto/list-jobs.query';
import { UpdateJobDto } from './dto/update-job.dto';
import { changedNotify } from '../notifications/notify-settings';
import type { IfMatch } from './job-etag';
import {
  changedSecrets,
  checkNoOverlap,
  KEEP,
  SecretChange,
  setsNoSecret,
  withCredentialHeadersMoved,
} from './secret-changes';

/** Writes of one change without If-Match before a 409: each lost only to another change of the same job. */
const MERGE_ATTEMPTS = 5;

/** A 412 naming the version the job is at. */
const stale = (id: number, current: number, ifMatch: IfMatch) =>
  new DomainError(
    'STALE',
    `job ${id} is at version ${current} (ETag "${current}"), not If-Match ${ifMatch.header}: read it again and reapply the change`,
  );

const DEFAULTS = {
  description: '',
  timezone: 'UTC',
  env: {},
  timeoutMs: 60_000,
  retries: 0,
  retryBackoffMs: 1000,
  concurrency: 'forbid',
  misfire: 'once',
  group: 'default',
  routing: 'round_robin',
  enabled: true,
} as const;

/**
 * The secrets a create or PATCH writes: a job that is not (or no longer) an http job has no secret headers; a PATCH
 * that gives `http` without `secretHeaders` keeps them (a client can not read them back to send them again).
 */
function secretChangeOf(
  job: Pick<JobFields, 'http'>,
  secretEnv: Record<string, string> | null | undefined,
  secretHeaders: Record<string, string> | null | undefined,
): SecretChange {
  return { env: secretEnv, headers: job.http === null ? null : secretHeaders };
}

/** The names a change sets, for the overlap check before the values are sealed. */
function namesOf(change: SecretChange) {
  return { env: { ...change.env }, headers: { ...change.headers } };
}

/** Job definitions: validated, stored, and handed to the scheduler at once (no restart, on every change). */
@Injectable()
export class JobsService {
  private readonly logger = new Logger(JobsService.name);

  constructor(
    private readonly jobs: JobsRepository,
    private readonly runs: RunsRepository,
    private readonly reads: ApiReads,
    private readonly scheduler: SchedulerService,
    private readonly launcher: RunLauncher,
    private readonly canceller: RunCanceller,
    private readonly events: EventsService,
    private readonly box: SecretBox,
  ) {}

  async create(input: CreateJobDto): Promise<JobResponse> {
    const now = Date.now();
    const dto = withCredentialHeadersMoved(input, []);
    const { secretEnv, notify, ...plain } = dto;
    const fields = {
      ...DEFAULTS,
      command: null,
      http: null,
      ...plain,
      notify: changedNotify(null, notify) ?? null,
    } as JobFields;
    const normalized = this.normalize(fields);
    const secretChange = secretChangeOf(normalized, secretEnv, dto.http?.secretHeaders);
    // Checked on the names alone before anything is written (sealing needs the job's id, known after the insert).
    checkNoOverlap(normalized.env, normalized.http?.headers, namesOf(secretChange));
    // A new job has no stored secret for `***` to keep: refused before anything is written.
    for (const [kind, map] of [
      ['secretEnv', secretChange.env],
      ['http.secretHeaders', secretChange.headers],
    ] as const) {
      const kept = Object.entries(map ?? {}).find(([, v]) => v === KEEP);
      if (kept)
        throw new DomainError('INVALID', `${kind}.${kept[0]}: '***' keeps a stored value, and a new job has none`);
    }
    const nextRunAt = this.nextFire(normalized, now, now);
    // The cursor starts at creation: the first tick is the first one after now.
    const row = { ...normalized, scheduleSetAt: now, lastTickAt: now, nextRunAt, secrets: null };
    let job: JobEntity;
    if (setsNoSecret(secretChange)) {
      job = await this.jobs.create(row, now);
    } else {
      // Sealed values are bound to the job's id, so they are written right after the insert; until then the job is
      // disabled, so no run of it can start without its secrets.
      const created = await this.jobs.create({ ...row, enabled: false, nextRunAt: null }, now);
      try {
        const secrets = changedSecrets(this.box, created.id, null, secretChange);
        // lastTickAt again, so that the watchdog's watermark starts at the first fire time too.
        const result = await this.jobs.update(created.id, created.version, {
          secrets,
          enabled: row.enabled,
          lastTickAt: now,
          nextRunAt,
        });
        if (result.outcome !== 'updated') throw new DomainError('CONFLICT', `job ${created.id} changed while created`);
        job = result.job;
      } catch (e) {
        // No half-made job is left behind: the create failed as a whole.
        await this.jobs.delete(created.id).catch(() => undefined);
        throw e;
      }
    }
    await this.scheduler.changed(job);
    this.events.jobChanged(job.id, 'created');
    this.logger.log({ msg: 'job created', jobId: job.id });
    return JobResponse.of(job, null, job.nextRunAt);
  }

  async list(q: ListJobsQuery): Promise<JobPage> {
    const { items, total, totalCapped } = await this.reads.listJobs(q);
    const last = await this.reads.lastRuns(items.map((j) => j.id));
    return { items: items.map((j) => JobResponse.of(j, last.get(j.id), this.displayNext(j))), total, totalCapped };
  }

  async get(id: number): Promise<JobResponse> {
    const job = await this.reads.findJob(id);
    if (!job) throw DomainError.notFound(`job ${id}`);
    const last = await this.reads.lastRuns([id]);
    return JobResponse.of(job, last.get(id), this.displayNext(job));
  }

  /**
   * Reads the job, merges the change, validates the merged job as a whole and writes it onto the version it read, so
   * no interleaving of two changes loses one or stores an invalid job. With If-Match, a version other than the one
   * named is a 412 (at the read or at the write); without, a write that lost the race merges again onto what won.
   */
  async update(id: number, dto: UpdateJobDto, ifMatch?: IfMatch): Promise<JobResponse> {
    for (let attempt = 1; ; attempt++) {
      const job = await this.find(id);
      if (ifMatch && !ifMatch.versions.includes(job.version)) throw stale(id, job.version, ifMatch);
      const now = Date.now();
      const change = withCredentialHeadersMoved(dto, Object.keys(job.secrets?.headers ?? {}));
      const result = await this.jobs.update(id, job.version, this.merge(job, change, now), now);
      switch (result.outcome) {
        case 'updated':
          if (result.job.group !== job.group) await this.requeueMoved(id, job.group, result.job.group);
          await this.scheduler.changed(result.job);
          this.events.jobChanged(id, 'updated');
          return this.get(id);
        case 'not_found':
          throw DomainError.notFound(`job ${id}`);
        case 'stale':
          if (ifMatch) throw stale(id, result.version, ifMatch);
          if (attempt >= MERGE_ATTEMPTS) {
            throw new DomainError(
              'CONFLICT',
              `job ${id} kept changing while this change was merged (${MERGE_ATTEMPTS} attempts); try again`,
            );
          }
      }
    }
  }

  /**
   * A job moved to another group: its pending runs published to the old group's queue are marked unqueued, so that
   * the broker's pending pass publishes them to the new group's queue within a pass, not after the 5-minute
   * republish. Executors of the old group ack and drop the old messages (the job is not of their group any more).
   * After the job's write, never before: a pass in between would read the old group and queue them there again.
   * A failure here is only logged: the change is stored, and the 5-minute republish still moves the runs.
   */
  private async requeueMoved(id: number, from: string, to: string): Promise<void> {
    try {
      const n = await this.runs.forgetQueued(id);
      if (n > 0)
        this.logger.log({
          msg: `job moved from group ${from} to ${to}: ${n} pending run(s) to publish again`,
          jobId: id,
        });
    } catch (e) {
      this.logger.warn({
        msg: `job moved to group ${to}: cannot mark its pending runs unqueued: ${(e as Error).message}`,
        jobId: id,
      });
    }
  }

  pause(id: number, ifMatch?: IfMatch): Promise<JobResponse> {
    return this.update(id, { enabled: false }, ifMatch);
  }

  resume(id: number, ifMatch?: IfMatch): Promise<JobResponse> {
    return this.update(id, { enabled: true }, ifMatch);
  }

  /** Scheduling stops, running runs are cancelled, the run history stays. */
  async remove(id: number): Promise<void> {
    await this.find(id);
    await this.jobs.delete(id);
    await this.scheduler.deleted(id);
    for (const run of await this.runs.findActive(id)) await this.canceller.cancel(run, 'job deleted');
    this.events.jobChanged(id, 'deleted');
    this.logger.log({ msg: 'job deleted', jobId: id });
  }

  /** One run now, outside the schedule, whatever the concurrency policy (the operator asked for it). */
  async trigger(id: number): Promise<{ runId: number }> {
    const job = await this.find(id);
    const now = Date.now();
    const run = await this.runs.claim({
      jobId: id,
      tickKey: `manual:${randomUUID()}`,
      attempt: 1,
      scheduledAt: now,
      trigger: 'manual',
      status: 'pending',
      deadlineAt: now + job.timeoutMs,
      dispatcherId: null,
    });
    if (!run) throw new DomainError('CONFLICT', 'could not record the run');
    void this.launcher.offer([{ run, job }]).catch(() => undefined);
    this.events.runChanged(run.id);
    return { runId: run.id };
  }

  private async find(id: number): Promise<JobEntity> {
    const job = await this.jobs.findById(id);
    if (!job) throw DomainError.notFound(`job ${id}`);
    return job;
  }

  /**
   * The columns a change writes onto `job` (the version read): the change, the task fields as one piece of the merged
   * job, and the schedule's cursor when the schedule or its state changed.
   */
  private merge(job: JobEntity, dto: UpdateJobDto, now: number): JobChanges {
    const { secretEnv, notify: notifyGiven, ...plain } = dto;
    const notify = changedNotify(job.notify, notifyGiven);
    const merged = this.normalize({ ...job, ...plain, ...(notify === undefined ? {} : { notify }) } as JobFields);
    const secrets = changedSecrets(
      this.box,
      job.id,
      job.secrets,
      secretChangeOf(merged, secretEnv, dto.http === undefined ? undefined : dto.http?.secretHeaders),
    );
    checkNoOverlap(merged.env, merged.http?.headers, secrets);
    const changes: JobChanges = { ...plain, type: merged.type, command: merged.command, http: merged.http, secrets };
    if (notify !== undefined) changes.notify = notify;
    const scheduleChanged = merged.cron !== job.cron || merged.timezone !== job.timezone;
    if (scheduleChanged || (merged.enabled && !job.enabled)) {
      // A new schedule (or a resume) starts now: ticks of the old schedule, or those that fell while paused, never fire.
      changes.scheduleSetAt = scheduleChanged ? now : job.scheduleSetAt;
      changes.lastTickAt = now;
    }
    // The stored next fire time moves with the cursor; recompute it only when the schedule or its state changed.
    if (scheduleChanged || merged.enabled !== job.enabled) {
      changes.nextRunAt = this.nextFire(
        merged,
        changes.lastTickAt ?? job.lastTickAt,
        changes.scheduleSetAt ?? job.scheduleSetAt,
      );
    }
    return changes;
  }

  /** Cross-field rules the DTO can not express; the job's task fields are kept to its type. */
  private normalize<T extends Omit<JobFields, 'http'> & { http?: Partial<HttpSpec> | null }>(job: T): T & JobFields {
    const reason = CronSchedule.validate(job.cron, job.timezone);
    if (reason) throw new DomainError('INVALID', `cron: ${reason}`);
    if (job.type === 'shell') {
      if (!job.command) throw new DomainError('INVALID', 'command is required for a shell job');
      return { ...job, http: null };
    }
    const { method, url } = job.http ?? {};
    if (!url || !method) throw new DomainError('INVALID', 'http is required for an http job');
    const http = httpSpecWithDefaults({ ...job.http, method, url });
    return { ...job, command: null, http };
  }

  private nextFire(
    job: Pick<JobEntity, 'cron' | 'timezone' | 'enabled'>,
    after: number,
    anchor: number,
  ): number | null {
    if (!job.enabled) return null;
    const next = CronSchedule.parse(job.cron, { timezone: job.timezone, anchor: new Date(anchor) }).next(
      new Date(after),
    );
    return next ? next.getTime() : null;
  }

  /** The stored next fire time, recomputed when the stored one has passed (the cursor moves only on ticks). */
  private displayNext(job: JobEntity): number | null {
    if (!job.enabled) return null;
    if (job.nextRunAt !== null && job.nextRunAt > Date.now() - 1000) return job.nextRunAt;
    try {
      return this.nextFire(job, Math.max(Date.now(), job.lastTickAt), job.scheduleSetAt);
    } catch {
      return null;
    }
  }
}
