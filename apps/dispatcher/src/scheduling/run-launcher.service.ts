import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { APP_CONFIG, AppConfig } from '@app/config';
import { boundedChunks, JobEntity, JobsRepository, RetryPolicy, RunEntity, RunsRepository } from '@app/persistence';
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { RunBatchReply, RunRequest } from '@app/protocol';
import { grpcCode } from '../executor-client/executor-grpc.client';
import { staticDownAfterMs } from '../executor-client/executor-client.module';
import { ExecutorPool } from '../executor-client/executor-pool.service';
import { EventsService } from '../events/events.service';

const LOOP_MS = 500;
/** After a refusal for capacity, the next pass comes this soon, doubling up to LOOP_MS while refusals go on. */
const RETRY_MIN_MS = 25;
const LOOP_NAME = 'gocron-pending-runs';
/** Runs per RunBatch call. */
const BATCH_LIMIT = 2000;
/**
 * Estimated bytes per RunBatch call: below the executor's 4 MiB message limit (grpc-js's default receive limit).
 * A run is ≈ 150 bytes plus its command, URL, body, headers and environment.
 */
const BATCH_BYTES = 3 * 1024 * 1024;

function requestBytes(req: RunRequest): number {
  let n = 150 + req.dispatcherId.length + (req.tickKey?.length ?? 0) + (req.executorKey?.length ?? 0);
  const strings = req.shell
    ? [req.shell.command, ...Object.entries(req.shell.env).flat()]
    : req.http
      ? [req.http.url, req.http.body, req.http.method, ...Object.entries(req.http.headers).flat()]
      : [];
  for (const s of strings) n += 3 * s.length + 4; // UTF-8 is at most 3 bytes per UTF-16 unit
  return n;
}

export type OfferOutcome = 'started' | 'waiting' | 'gone';
/** A run being offered: its request, its executors in preference order and the one to try next. */
interface Offer {
  i: number;
  req: RunRequest;
  candidates: string[];
  next: number;
}
/** What offering a run needs of it. */
export type RunToOffer = Pick<RunEntity, 'id' | 'jobId' | 'tickKey' | 'attempt' | 'executorKey' | 'scheduledAt'>;

export function retryPolicyOf(job: JobEntity): RetryPolicy {
  return { retries: job.retries, retryBackoffMs: job.retryBackoffMs, timeoutMs: job.timeoutMs };
}

/**
 * Hands pending runs to executors. A run waits `pending` in the ledger while no executor of its group can take
 * it, is offered again as capacity frees, and fails once its deadline passes. Also declares runs lost when their
 * executor has been gone for two lease TTLs.
 */
@Injectable()
export class RunLauncher implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(RunLauncher.name);
  private readonly offering = new Set<number>();
  private readonly missingSince = new Map<string, number>();
  private looping = false;
  private stopped = false;
  /** A pass soon after executors refused runs for want of room, sooner than the next regular pass. */
  private retryTimer: NodeJS.Timeout | null = null;
  private retryDelayMs = RETRY_MIN_MS;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly runs: RunsRepository,
    private readonly jobs: JobsRepository,
    private readonly pool: ExecutorPool,
    private readonly registry: SchedulerRegistry,
    private readonly events: EventsService,
  ) {}

  onApplicationBootstrap(): void {
    this.registry.addInterval(
      LOOP_NAME,
      setInterval(() => void this.loop(), LOOP_MS),
    );
    this.pool.onCapacity(() => void this.loop());
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.registry.doesExist('interval', LOOP_NAME)) this.registry.deleteInterval(LOOP_NAME);
  }

  /** Offers one run to the executors of its job's group, in routing order, failing over on busy or down ones. */
  async offer(run: RunToOffer, job: JobEntity): Promise<OfferOutcome> {
    const [outcome] = await this.offerMany([{ run, job }]);
    return outcome;
  }

  /**
   * Offers many runs at once: each run's executors are ranked by its job's routing, the runs bound for one executor
   * travel in one RunBatch call, and the ones an executor refuses (busy, draining, down) move to their next
   * candidate, round after round. Runs no executor took stay pending for the pending loop.
   */
  async offerMany(items: { run: RunToOffer; job: JobEntity }[]): Promise<OfferOutcome[]> {
    const outcomes: OfferOutcome[] = items.map(() => 'waiting');
    if (this.stopped) return outcomes;
    const open: Offer[] = [];
    try {
      for (const [i, { run, job }] of items.entries()) {
        if (this.offering.has(run.id)) continue;
        this.offering.add(run.id);
        const offer: Offer = { i, req: this.request(run, job), candidates: [], next: 0 };
        open.push(offer); // before the await: the finally below must see it
        offer.candidates = await this.candidates(run, job);
      }
      for (let round = open.filter((o) => o.candidates.length > 0); round.length > 0;) {
        const byAddress = new Map<string, Offer[]>();
        for (const o of round) {
          const address = o.candidates[o.next];
          const list = byAddress.get(address);
          if (list) list.push(o);
          else byAddress.set(address, [o]);
        }
        const again: Offer[] = [];
        await Promise.all(
          [...byAddress].map(async ([address, batch]) => {
            for (const chunk of boundedChunks(batch, (o) => requestBytes(o.req), BATCH_BYTES, BATCH_LIMIT)) {
              again.push(...(await this.sendChunk(address, chunk, items, outcomes)));
            }
          }),
        );
        for (const o of again) o.next++;
        round = again.filter((o) => o.next < o.candidates.length);
      }
    } finally {
      for (const o of open) this.offering.delete(items[o.i].run.id);
    }
    // Executors were there but had no room: they free it within milliseconds for short tasks, so look again soon
    // rather than at the next regular pass (a burst larger than the executors' capacity drains at their pace).
    // The pause doubles only while nothing gets in.
    if (outcomes.includes('started')) this.retryDelayMs = RETRY_MIN_MS;
    if (open.some((o) => o.candidates.length > 0 && outcomes[o.i] === 'waiting')) this.retrySoon();
    return outcomes;
  }

  private retrySoon(): void {
    if (this.retryTimer || this.stopped) return;
    const delay = this.retryDelayMs;
    this.retryDelayMs = Math.min(this.retryDelayMs * 2, LOOP_MS);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.loop(false);
    }, delay);
  }

  /** Sends one RunBatch; settles the runs it decides, answers those to offer to their next candidate. */
  private async sendChunk(
    address: string,
    chunk: Offer[],
    items: { run: RunToOffer; job: JobEntity }[],
    outcomes: OfferOutcome[],
  ): Promise<Offer[]> {
    let reply: RunBatchReply;
    try {
      reply = await this.pool.sendBatch(
        address,
        chunk.map((o) => o.req),
      );
    } catch (e) {
      // Too large for the executor's message limit (a size estimate can be off): halves, to the same executor.
      if (grpcCode(e) === GrpcStatus.RESOURCE_EXHAUSTED && chunk.length > 1) {
        const half = chunk.length >> 1;
        return [
          ...(await this.sendChunk(address, chunk.slice(0, half), items, outcomes)),
          ...(await this.sendChunk(address, chunk.slice(half), items, outcomes)),
        ];
      }
      // Unreachable, timed out or refusing the call: the whole chunk tries its next executor (discovery and health
      // report a down executor; a line per failed call would repeat that for every offer).
      this.logger.debug?.({ msg: `RunBatch of ${chunk.length} run(s) to ${address} failed: ${(e as Error).message}` });
      return chunk;
    }
    const byRun = new Map(reply.outcomes.map((o) => [Number(o.runId), o]));
    const refused: Offer[] = [];
    for (const o of chunk) {
      const answer = byRun.get(o.req.runId);
      const { run, job } = items[o.i];
      if (answer?.accepted) {
        outcomes[o.i] = 'started';
        this.logger.debug?.({ msg: 'run handed over', runId: run.id, jobId: job.id, executorId: reply.executorId });
      } else if (answer?.code === 'NOT_PENDING') {
        outcomes[o.i] = 'gone'; // another executor has it, or it ended
      } else if (answer?.code === 'INVALID') {
        outcomes[o.i] = 'gone';
        await this.runs.finish(
          run.id,
          { status: 'failed', finishedAt: Date.now(), error: `executor refused the run: ${answer.message}` },
          ['pending'],
        );
        this.events.runChanged(run.id);
      } else {
        refused.push(o); // AT_CAPACITY, DRAINING, LEDGER_DOWN, or no answer for it: the next executor
      }
    }
    return refused;
  }

  /** Executor addresses for the run, in preference order; a retry prefers another executor than its last one. */
  private async candidates(run: RunToOffer, job: JobEntity): Promise<string[]> {
    let candidates = this.pool.rank(job.group, job.routing, job.id);
    if (run.executorKey) candidates = candidates.filter((e) => e.address === run.executorKey);
    if (run.attempt > 1 && candidates.length > 1) {
      const previous = await this.runs.findAttempt(run, run.attempt - 1);
      if (previous?.executorAddress) {
        candidates = [
          ...candidates.filter((e) => e.address !== previous.executorAddress),
          ...candidates.filter((e) => e.address === previous.executorAddress),
        ];
      }
    }
    return candidates.map((e) => e.address);
  }

  /** The executors a broadcast job runs on now: every one of its group that is not draining. */
  executorsFor(job: JobEntity) {
    return this.pool.executors().filter((e) => e.group === job.group && !e.draining);
  }

  /** Stops a run: a pending one is cancelled in the ledger, a running one on its executor. */
  async cancel(run: RunEntity, reason: string): Promise<void> {
    if (run.status === 'pending') {
      await this.runs.finish(run.id, { status: 'cancelled', finishedAt: Date.now(), error: reason }, ['pending']);
    } else if (run.status === 'running' && run.executorAddress) {
      try {
        await this.pool.cancel(run.executorAddress, run.id, reason);
        return;
      } catch (e) {
        // The executor is unreachable or no longer has it: record the cancel; if it still runs the task, its ledger
        // watch stops it, and its late result can not overwrite this final status.
        this.logger.warn({ msg: `cancel via executor failed (${(e as Error).message}); recording it`, runId: run.id });
        await this.runs.finish(run.id, { status: 'cancelled', finishedAt: Date.now(), error: reason }, ['running']);
      }
    }
    this.events.runChanged(run.id);
  }

  request(run: RunToOffer, job: JobEntity): RunRequest {
    const base = {
      runId: run.id,
      jobId: job.id,
      scheduledAt: new Date(run.scheduledAt).toISOString(),
      attempt: run.attempt,
      timeoutMs: job.timeoutMs,
      dispatcherId: this.config.dispatcher.id,
      retry: { retries: job.retries, retryBackoffMs: job.retryBackoffMs },
      tickKey: run.tickKey,
      executorKey: run.executorKey,
    };
    return job.type === 'shell'
      ? { ...base, shell: { command: job.command ?? '', env: job.env ?? {} } }
      : {
          ...base,
          http: {
            method: job.http!.method,
            url: job.http!.url,
            headers: job.http!.headers ?? {},
            body: job.http!.body ?? '',
            expectStatus: job.http!.expectStatus ?? [],
          },
        };
  }

  /** One pass: expire overdue pending runs, offer the rest, find lost runs. Never overlaps itself. */
  async loop(full = true): Promise<void> {
    if (this.looping || this.stopped) return;
    this.looping = true;
    try {
      const now = Date.now();
      // The quick passes after capacity refusals only offer; expiry and lost runs keep the regular pace.
      if (full) await this.expire(now);
      await this.offerPending(now);
      if (full) await this.findLost(now);
    } catch (e) {
      this.logger.warn(`pending-run pass failed: ${(e as Error).message}`);
    } finally {
      this.looping = false;
    }
  }

  private async expire(now: number): Promise<void> {
    for (const run of await this.runs.findExpiredPending(now, 500)) {
      const job = await this.jobs.findById(run.jobId);
      const group = job?.group ?? '?';
      const ok = await this.runs.finishWithRetry(
        run,
        {
          status: 'failed',
          finishedAt: now,
          error: `no executor of group '${group}' took the run before its deadline (${new Date(run.deadlineAt).toISOString()})`,
        },
        null,
        ['pending'],
      );
      if (ok.finished) {
        this.logger.warn({
          msg: 'pending run expired',
          runId: run.id,
          jobId: run.jobId,
          scheduledAt: new Date(run.scheduledAt).toISOString(),
        });
        this.events.runChanged(run.id);
      }
    }
  }

  private async offerPending(now: number): Promise<void> {
    const pending = (await this.runs.findOfferable(now, 1000)).filter((r) => !this.offering.has(r.id));
    if (pending.length === 0) return;
    const jobs = await this.jobs.findByIds([...new Set(pending.map((r) => r.jobId))]);
    const ready: { run: RunEntity; job: JobEntity }[] = [];
    for (const run of pending) {
      const job = jobs.get(run.jobId);
      if (job) ready.push({ run, job });
      else await this.cancel(run, 'job deleted');
    }
    // A backlog (a burst, executors back after an outage) goes out in batches, one call per executor.
    const outcomes = await this.offerMany(ready);
    outcomes.forEach((o, k) => o === 'started' && this.events.runChanged(ready[k].run.id));
  }

  /** A run whose executor has been absent from discovery for 2 lease TTLs is lost, then retried per the job. */
  private async findLost(now: number): Promise<void> {
    const present = new Set(this.pool.executors().map((e) => e.id));
    for (const id of present) this.missingSince.delete(id);
    const running = await this.runs.findRunningOn(null);
    // etcd: the key's DELETE (lease expiry, at most a TTL after death) is final. Static: the executor is unlisted
    // after staticDownAfterMs without an answer; lost once two TTLs have passed since its last answer.
    const lostAfterMs = this.pool.absenceIsFinal
      ? // The DELETE comes at most a TTL after death; one more TTL of grace keeps "lost within 2 TTLs" and
        // absorbs a watch that is briefly behind.
        this.config.etcd.leaseTtlSeconds * 1000
      : Math.max(0, 2 * this.config.etcd.leaseTtlSeconds * 1000 - staticDownAfterMs(this.config));
    for (const run of running) {
      if (!run.executorId || present.has(run.executorId)) continue;
      const since = this.missingSince.get(run.executorId) ?? now;
      this.missingSince.set(run.executorId, since);
      if (now - since < lostAfterMs) continue;
      const job = await this.jobs.findById(run.jobId);
      const { finished, retry } = await this.runs.finishWithRetry(
        run,
        { status: 'lost', finishedAt: now, error: `executor ${run.executorId} vanished while the run was running` },
        job ? retryPolicyOf(job) : null,
      );
      if (finished) {
        this.logger.warn({
          msg: 'run lost',
          runId: run.id,
          jobId: run.jobId,
          executorId: run.executorId,
          retryRunId: retry?.id,
        });
        this.events.runChanged(run.id);
      }
    }
  }
}
