import { randomUUID } from 'node:crypto';
import { Injectable, Logger, Optional } from '@nestjs/common';
import { SecretBox } from '@app/common';
import { DEFAULT_DEPENDENCY_WINDOW_MS, httpSpecWithDefaults, JobGraphJson, MAX_DEPENDENCY_DEPTH } from '@app/contract';
import { CronSchedule } from '@app/cron';
import {
  ApiReads,
  hasSchedule,
  HttpSpec,
  JobChanges,
  JobDependency,
  JobEntity,
  JobGraphRepository,
  JobsRepository,
  NewJob,
  RunLinksRepository,
  RunsRepository,
} from '@app/persistence';
import { ShardOwnership } from '../cluster/shard-ownership.service';
import { DomainError } from '../common/domain-error';
import { EventsService } from '../events/events.service';
import { RunCanceller } from '../launching/run-canceller.service';
import { RunLauncher } from '../launching/run-launcher.service';
import { SchedulerService } from '../scheduling/scheduler.service';
import { CreateJobDto } from './dto/create-job.dto';
import { JobPage, JobResponse } from './dto/job.response';
import { ListJobsQuery } from './dto/list-jobs.query';
import { UpdateJobDto } from './dto/update-job.dto';
import { graphAround, hasChildrenError, refusalError } from './job-graph';
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

type JobFields = Omit<NewJob, 'scheduleSetAt' | 'lastTickAt' | 'nextRunAt'>;

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
  cron: '',
  dependencyMode: 'all',
  dependencyWindowMs: DEFAULT_DEPENDENCY_WINDOW_MS,
} as const;

/** A job's parents as stored: plain {jobId, on} in the order given, null for none (never an empty list). */
function storedParents(deps: readonly JobDependency[] | null | undefined): JobDependency[] | null {
  if (!deps || deps.length === 0) return null;
  return deps.map((d) => ({ jobId: d.jobId, on: d.on }));
}

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
    private readonly graph: JobGraphRepository,
    private readonly links: RunLinksRepository,
    @Optional() private readonly shards?: ShardOwnership,
  ) {}

  /** The dispatcher planning an enabled job (null for a paused one, or while etcd does not say). */
  private ownerOf(job: JobEntity): string | null {
    return job.enabled ? (this.shards?.ownerOf(job.id) ?? null) : null;
  }

  async create(input: CreateJobDto): Promise<JobResponse> {
    const now = Date.now();
    const dto = withCredentialHeadersMoved(input, []);
    const { secretEnv, notify, ...plain } = dto;
    const fields = {
      ...DEFAULTS,
      command: null,
      http: null,
      ...plain,
      cron: plain.cron ?? '',
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
      job = await this.insert(row, now);
    } else {
      // Sealed values are bound to the job's id, so they are written right after the insert; until then the job is
      // disabled, so no run of it can start without its secrets.
      const created = await this.insert({ ...row, enabled: false, nextRunAt: null }, now);
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
        // No half-made job is left behind: the create failed as a whole (its edges with it).
        await this.graph.delete(created.id, true).catch(() => undefined);
        throw e;
      }
    }
    await this.scheduler.changed(job);
    this.events.jobChanged(job.id, 'created');
    this.logger.log({ msg: 'job created', jobId: job.id });
    return JobResponse.of(job, null, job.nextRunAt, [], this.ownerOf(job));
  }

  /** Inserts the job: with parents, in the graph transaction that checks them (a 400 naming what is wrong). */
  private async insert(row: NewJob, now: number): Promise<JobEntity> {
    if (!row.dependsOn) return this.jobs.create(row, now);
    const result = await this.graph.create({ ...row, dependsOn: row.dependsOn }, now);
    if (result.outcome === 'refused') throw refusalError(result.refusal, MAX_DEPENDENCY_DEPTH);
    return result.job;
  }

  async list(q: ListJobsQuery): Promise<JobPage> {
    const { items, total, totalCapped } = await this.reads.listJobs(q);
    const ids = items.map((j) => j.id);
    const last = await this.reads.lastRuns(ids);
    // One query for the children of the whole page.
    const children = await this.reads.childrenOf(ids);
    return {
      items: items.map((j) =>
        JobResponse.of(j, last.get(j.id), this.displayNext(j), children.get(j.id) ?? [], this.ownerOf(j)),
      ),
      total,
      totalCapped,
    };
  }

  async get(id: number): Promise<JobResponse> {
    const job = await this.reads.findJob(id);
    if (!job) throw DomainError.notFound(`job ${id}`);
    const last = await this.reads.lastRuns([id]);
    const children = await this.reads.childrenOf([id]);
    return JobResponse.of(job, last.get(id), this.displayNext(job), children.get(id) ?? [], this.ownerOf(job));
  }

  /** The job's ancestors and descendants (GET /api/jobs/:id/graph). */
  async graphOf(id: number): Promise<JobGraphJson> {
    if (!(await this.reads.findJob(id))) throw DomainError.notFound(`job ${id}`);
    return graphAround(id, this.reads);
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
      const changes = this.merge(job, change, now);
      // A change of the parents is checked and written in the graph transaction; any other, as before.
      const result =
        dto.dependsOn !== undefined
          ? await this.graph.update(id, job.version, changes, now)
          : await this.jobs.update(id, job.version, changes, now);
      switch (result.outcome) {
        case 'refused':
          throw refusalError(result.refusal, MAX_DEPENDENCY_DEPTH);
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

  /**
   * Scheduling stops, running runs are cancelled, the run history stays. A job other jobs depend on is a 409 unless
   * `force`, which detaches them in the same transaction (a child left with no parent and no cron is paused).
   * Answers the ids of the children detached.
   */
  async remove(id: number, force = false): Promise<number[]> {
    const result = await this.graph.delete(id, force);
    switch (result.outcome) {
      case 'not_found':
        throw DomainError.notFound(`job ${id}`);
      case 'has_children':
        throw hasChildrenError(id, result.children);
      case 'deleted':
        break;
    }
    await this.scheduler.deleted(id);
    for (const childId of result.detached) {
      const child = await this.jobs.findById(childId);
      if (child) await this.scheduler.changed(child);
      this.events.jobChanged(childId, 'updated');
    }
    if (result.detached.length > 0) {
      this.logger.log({
        msg:
          `job deleted with force: detached from job(s) ${result.detached.join(', ')}` +
          (result.paused.length > 0 ? `; paused job(s) ${result.paused.join(', ')} (no parent, no cron left)` : ''),
        jobId: id,
      });
    }
    // Best effort: the links only join runs for their upstream/downstream, and retention prunes them anyway.
    await this.links
      .deleteOfJob(id)
      .catch((e: unknown) =>
        this.logger.warn({ msg: `run links of the deleted job not removed: ${(e as Error).message}`, jobId: id }),
      );
    for (const run of await this.runs.findActive(id)) await this.canceller.cancel(run, 'job deleted');
    this.events.jobChanged(id, 'deleted');
    this.logger.log({ msg: 'job deleted', jobId: id });
    return result.detached;
  }

  /**
   * One run now, outside the schedule, whatever the concurrency policy (the operator asked for it). Its tick key
   * says whether it may start the job's children: `manual:` never does, `cascade:` does as a scheduled run would.
   */
  async trigger(id: number, cascade = false): Promise<{ runId: number }> {
    const job = await this.find(id);
    const now = Date.now();
    const run = await this.runs.claim({
      jobId: id,
      tickKey: `${cascade ? 'cascade' : 'manual'}:${randomUUID()}`,
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
    if (merged.dependsOn?.some((d) => d.jobId === job.id)) {
      throw new DomainError('INVALID', `dependsOn: job ${job.id} can not depend on itself`);
    }
    const secrets = changedSecrets(
      this.box,
      job.id,
      job.secrets,
      secretChangeOf(merged, secretEnv, dto.http === undefined ? undefined : dto.http?.secretHeaders),
    );
    checkNoOverlap(merged.env, merged.http?.headers, secrets);
    const changes: JobChanges = { ...plain, type: merged.type, command: merged.command, http: merged.http, secrets };
    if (plain.dependsOn !== undefined) changes.dependsOn = merged.dependsOn ?? null;
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
  private normalize<T extends Omit<JobFields, 'http'> & { http?: Partial<HttpSpec> | null }>(input: T): T & JobFields {
    const job = { ...input, dependsOn: storedParents(input.dependsOn) };
    if (!hasSchedule(job)) {
      // No cron: the job runs only when its parents start it, so it needs some.
      if (!job.dependsOn) throw new DomainError('INVALID', 'a job needs a cron expression or dependsOn');
    } else {
      const reason = CronSchedule.validate(job.cron, job.timezone);
      if (reason) throw new DomainError('INVALID', `cron: ${reason}`);
    }
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
    if (!job.enabled || !hasSchedule(job)) return null;
    const next = CronSchedule.parse(job.cron, { timezone: job.timezone, anchor: new Date(anchor) }).next(
      new Date(after),
    );
    return next ? next.getTime() : null;
  }

  /** The stored next fire time, recomputed when the stored one has passed (the cursor moves only on ticks). */
  private displayNext(job: JobEntity): number | null {
    if (!job.enabled || !hasSchedule(job)) return null;
    if (job.nextRunAt !== null && job.nextRunAt > Date.now() - 1000) return job.nextRunAt;
    try {
      return this.nextFire(job, Math.max(Date.now(), job.lastTickAt), job.scheduleSetAt);
    } catch {
      return null;
    }
  }
}
