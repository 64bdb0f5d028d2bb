import { Inject, Injectable, Logger, OnApplicationShutdown, Optional } from '@nestjs/common';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { LogThrottle, logsDebug } from '@app/common';
import { APP_CONFIG, AppConfig } from '@app/config';
import type { ExecutorInfo } from '@app/discovery';
import { boundedChunks, JobEntity, LedgerKey, ROUTINGS, RunsRepository } from '@app/persistence';
import type { RunBatchReply, RunRequest } from '@app/protocol';
import { DispatcherMetrics } from '../metrics/dispatcher-metrics';
import { grpcCode } from '../executor-client/executor-grpc.client';
import { ExecutorPool } from '../executor-client/executor-pool.service';
import { EventsService } from '../events/events.service';
import { BrokerRuns, RunToQueue } from '../broker/broker-runs.service';
import { requestBytes, runRequestOf, UnofferableJobError } from './run-request';

/** Runs per RunBatch call. */
const BATCH_LIMIT = 2000;
/** Estimated bytes per RunBatch call: below the executor's 4 MiB message limit. */
const BATCH_BYTES = 3 * 1024 * 1024;
/**
 * How long an executor at capacity may hold a RunBatch for room (wait_ms), asked only of the last executor a run can
 * go to: it answers as its running tasks end, rather than the launcher offering again on a timer. Kept short: a pass
 * waits for its offers, and expiry and lost-run detection run between passes.
 */
export const ROOM_WAIT_MS = 250;

/**
 * What became of one offered run: an executor started it, the broker confirmed its message (a broker group's run,
 * still pending in the ledger until an executor takes it), none had room (it stays pending), or it is not ours.
 */
export type OfferOutcome = 'started' | 'queued' | 'waiting' | 'gone';

/** A run to offer, with its job. (Its deadline, when known, bounds the life of its broker message.) */
export interface RunToOffer {
  run: RunToQueue['run'];
  job: JobEntity;
}

/** A run being offered: its request and its size, its executors in preference order and the one to try next. */
interface Offer {
  i: number;
  req: RunRequest;
  bytes: number;
  candidates: string[];
  next: number;
}

/**
 * Hands claimed runs to executors. Each run's executors are ranked by its job's routing, the runs bound for one
 * executor travel in one RunBatch call, and the ones an executor refuses (busy, draining, down) move to their next
 * candidate, round after round. A run no executor took stays `pending` in the ledger for the next pass
 * (LaunchLoop, told through onOffered when executors were there but had no room). A run whose job can not be turned
 * into a request (or ranked by its routing) fails with the reason; it holds back none of the others.
 */
@Injectable()
export class RunLauncher implements OnApplicationShutdown {
  private readonly logger = new Logger(RunLauncher.name);
  private readonly failures = new LogThrottle((m) => this.logger.warn(m));
  /** Runs being offered now: a pass that finds them pending leaves them alone. */
  private readonly offering = new Set<number>();
  private readonly listeners: ((summary: { started: boolean; waitingForRoom: boolean }) => void)[] = [];
  private stopped = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly runs: RunsRepository,
    private readonly pool: ExecutorPool,
    private readonly events: EventsService,
    @Optional() private readonly metrics?: DispatcherMetrics,
    @Optional() private readonly broker?: BrokerRuns,
  ) {}

  onApplicationShutdown(): void {
    this.stopped = true;
  }

  isOffering(runId: number): boolean {
    return this.offering.has(runId);
  }

  /** Called after every offer: whether some run started, and whether some found executors but no room. */
  onOffered(listener: (summary: { started: boolean; waitingForRoom: boolean }) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Offers the runs: those of broker groups ([rabbitmq] groups) are published to the broker, the others offered to
   * executors over gRPC; each started one is announced as a run change.
   */
  async offer(items: RunToOffer[]): Promise<OfferOutcome[]> {
    if (!this.broker?.enabled || this.stopped) return this.offerDirect(items);
    const queued: number[] = [];
    const direct: number[] = [];
    items.forEach((it, k) => (this.broker!.isBrokerGroup(it.job.group) ? queued : direct).push(k));
    if (queued.length === 0) return this.offerDirect(items);
    const outcomes: OfferOutcome[] = items.map(() => 'waiting');
    const [viaBroker, viaGrpc] = await Promise.all([
      this.publish(queued.map((k) => items[k])),
      direct.length > 0 ? this.offerDirect(direct.map((k) => items[k])) : [],
    ]);
    queued.forEach((k, i) => (outcomes[k] = viaBroker[i]));
    direct.forEach((k, i) => (outcomes[k] = viaGrpc[i]));
    return outcomes;
  }

  /**
   * Publishes runs of broker groups (a run already being offered or published here is left alone). A run whose job
   * can not be turned into a request fails here as on the gRPC path: no executor could run it.
   */
  private async publish(items: RunToOffer[]): Promise<OfferOutcome[]> {
    const outcomes: OfferOutcome[] = items.map(() => 'waiting');
    const open: number[] = [];
    try {
      for (const [i, { run, job }] of items.entries()) {
        if (this.offering.has(run.id)) continue;
        try {
          runRequestOf(run, job, this.config.dispatcher.id);
        } catch (e) {
          outcomes[i] = await this.fail(run, job, `can not be offered: ${(e as Error).message}`);
          continue;
        }
        this.offering.add(run.id);
        open.push(i);
      }
      const confirmed = await this.broker!.publish(open.map((i) => items[i]));
      open.forEach((i, n) => (outcomes[i] = confirmed[n] ? 'queued' : 'waiting'));
    } finally {
      for (const i of open) this.offering.delete(items[i].run.id);
    }
    return outcomes;
  }

  /** Offers the runs to executors over gRPC. */
  private async offerDirect(items: RunToOffer[]): Promise<OfferOutcome[]> {
    const outcomes: OfferOutcome[] = items.map(() => 'waiting');
    if (this.stopped) return outcomes;
    const open: Offer[] = [];
    try {
      for (const [i, { run, job }] of items.entries()) {
        if (this.offering.has(run.id)) continue;
        let offer: Offer;
        let ranked: ExecutorInfo[];
        try {
          const req = runRequestOf(run, job, this.config.dispatcher.id);
          offer = { i, req, bytes: requestBytes(req), candidates: [], next: 0 };
          ranked = this.rank(run, job);
        } catch (e) {
          // This job can not be offered, on any pass: fail the run with the reason, go on with the others.
          outcomes[i] = await this.fail(run, job, `can not be offered: ${(e as Error).message}`);
          continue;
        }
        this.offering.add(run.id);
        open.push(offer); // before the await: the finally below must see it
        offer.candidates = await this.preferAnother(run, ranked);
      }
      for (let round = open.filter((o) => o.candidates.length > 0); round.length > 0;) {
        // Per executor, the runs it is the last candidate of (which may wait there for room) apart from the others.
        const byTarget = new Map<string, { address: string; waitMs: number; batch: Offer[] }>();
        for (const o of round) {
          const address = o.candidates[o.next];
          const waitMs = o.next === o.candidates.length - 1 ? ROOM_WAIT_MS : 0;
          const key = `${waitMs} ${address}`;
          const target = byTarget.get(key);
          if (target) target.batch.push(o);
          else byTarget.set(key, { address, waitMs, batch: [o] });
        }
        const again: Offer[] = [];
        await Promise.all(
          [...byTarget.values()].map(async ({ address, waitMs, batch }) => {
            for (const chunk of boundedChunks(batch, (o) => o.bytes, BATCH_BYTES, BATCH_LIMIT)) {
              again.push(...(await this.sendChunk(address, chunk, items, outcomes, waitMs)));
            }
          }),
        );
        for (const o of again) o.next++;
        round = again.filter((o) => o.next < o.candidates.length);
      }
    } finally {
      for (const o of open) this.offering.delete(items[o.i].run.id);
    }
    outcomes.forEach((o, k) => o === 'started' && this.events.runChanged(items[k].run.id));
    const summary = {
      started: outcomes.includes('started'),
      waitingForRoom: open.some((o) => o.candidates.length > 0 && outcomes[o.i] === 'waiting'),
    };
    for (const listener of this.listeners) listener(summary);
    return outcomes;
  }

  /** Sends one RunBatch; settles the runs it decides, answers those to offer to their next candidate. */
  private async sendChunk(
    address: string,
    chunk: Offer[],
    items: RunToOffer[],
    outcomes: OfferOutcome[],
    waitMs = 0,
  ): Promise<Offer[]> {
    let reply: RunBatchReply;
    try {
      reply = await this.pool.sendBatch(
        address,
        chunk.map((o) => o.req),
        waitMs,
      );
    } catch (e) {
      // Too large for the executor's message limit (a size estimate can be off): halves, to the same executor.
      if (grpcCode(e) === GrpcStatus.RESOURCE_EXHAUSTED && chunk.length > 1) {
        const half = chunk.length >> 1;
        return [
          ...(await this.sendChunk(address, chunk.slice(0, half), items, outcomes, waitMs)),
          ...(await this.sendChunk(address, chunk.slice(half), items, outcomes, waitMs)),
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
        if (run.attempt === 1)
          this.metrics?.startLag.observe({ group: job.group }, (Date.now() - run.scheduledAt) / 1000);
        if (logsDebug()) {
          this.logger.debug?.({ msg: 'run handed over', runId: run.id, jobId: job.id, executorId: reply.executorId });
        }
      } else if (answer?.code === 'NOT_PENDING' || answer?.code === 'JOB_GONE') {
        outcomes[o.i] = 'gone'; // another executor has it, or it ended; or its job is gone (the pending pass cancels it)
      } else if (answer?.code === 'MISMATCH') {
        // The ledger holds the run under another key than this offer's: a pending pass offers it as the ledger has it.
        this.failures.warn('mismatch', `executor ${address} refused run ${run.id}: ${answer.message}`);
        outcomes[o.i] = 'gone';
      } else if (answer?.code === 'INVALID') {
        outcomes[o.i] = await this.fail(run, job, `executor refused the run: ${answer.message}`);
      } else {
        // AT_CAPACITY, DRAINING, LEDGER_DOWN, WRONG_GROUP (the executor's group is not the job's as it read it), or no
        // answer for it: the next executor.
        refused.push(o);
      }
    }
    return refused;
  }

  /** Fails a pending run that can not be offered; 'waiting' when even that can not be written now (next pass). */
  private async fail(run: LedgerKey, job: JobEntity, error: string): Promise<OfferOutcome> {
    try {
      if (await this.runs.finish(run.id, { status: 'failed', finishedAt: Date.now(), error }, ['pending'])) {
        this.logger.warn({ msg: `run failed: ${error}`, runId: run.id, jobId: job.id });
        this.events.runChanged(run.id);
      }
      return 'gone';
    } catch (e) {
      this.failures.warn('fail', `cannot record that run ${run.id} failed (${error}): ${(e as Error).message}`);
      return 'waiting';
    }
  }

  /** The executors of the run's group in its routing's order; a broadcast run only on its own executor. */
  private rank(run: LedgerKey, job: JobEntity): ExecutorInfo[] {
    if (!ROUTINGS.includes(job.routing)) {
      throw new UnofferableJobError(`job ${job.id} has an unknown routing '${String(job.routing)}'`);
    }
    const ranked = this.pool.rank(job.group, job.routing, job.id);
    return run.executorKey ? ranked.filter((e) => e.address === run.executorKey) : ranked;
  }

  /**
   * Executor addresses for the run, in preference order: a retry prefers another executor than its last one (when
   * the previous attempt can not be read now, the routing's order stands).
   */
  private async preferAnother(run: LedgerKey, ranked: ExecutorInfo[]): Promise<string[]> {
    let candidates = ranked;
    if (run.attempt > 1 && candidates.length > 1) {
      try {
        const previous = await this.runs.findAttempt(run, run.attempt - 1);
        if (previous?.executorAddress) {
          candidates = [
            ...candidates.filter((e) => e.address !== previous.executorAddress),
            ...candidates.filter((e) => e.address === previous.executorAddress),
          ];
        }
      } catch (e) {
        this.failures.warn('previous', `cannot read the previous attempt of run ${run.id}: ${(e as Error).message}`);
      }
    }
    return candidates.map((e) => e.address);
  }
}
