import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, Optional } from '@nestjs/common';
import { LogThrottle } from '@app/common';
import { DependencyLedger, JobsRepository, RunsRepository } from '@app/persistence';
import { Timers } from '../common/timers.service';
import { ExecutorPool } from '../executor-client/executor-pool.service';
import { EventsService } from '../events/events.service';
import { BrokerPendingRuns } from '../broker/broker-pending.service';
import { ShardOwnership } from '../cluster/shard-ownership.service';
import { LostRuns } from './lost-runs.service';
import { PendingRuns } from './pending-runs.service';
import { RETRY_REPAIR_LOOKBACK_MS, RetryRepair } from './retry-repair';
import { LeaderPass } from '../common/leader-pass';
import { RunLauncher } from './run-launcher.service';

const PASS_NAME = 'gocron-launch-loop';
const PASS_MS = 500;
/** After a refusal for capacity, the next pass comes this soon, doubling up to PASS_MS while refusals go on. */
const RETRY_MIN_MS = 25;
/** How often a full pass also looks for runs owed a retry (RetryRepair). */
const REPAIR_MS = 2000;

/**
 * When the launcher's background work runs: every 500 ms, and as soon as an executor frees capacity, one pass that
 * fails overdue pending runs, offers the others, looks for lost runs, and every 2 s for runs owed a retry, each
 * step on its own (one failing does not skip the others; within a step each run is handled on its own too); passes
 * never overlap. Runs executors refused for want of room are offered again sooner (25 ms, doubling while none gets
 * in), by quick passes that only offer; a backlog larger than one pass's share (a burst) is offered pass after pass
 * while executors take it (a pass chains the next only when it read its whole share and some of it started; one in
 * which the executors are full waits up to 250 ms at the last of them, see RunLauncher); a pass asked for while one
 * runs follows it, full when a full one was asked for (at most one per 500 ms).
 */
@Injectable()
export class LaunchLoop implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(LaunchLoop.name);
  private readonly failures = new LogThrottle((m) => this.logger.warn(m));
  private running = false;
  /**
   * What was asked for while a pass ran: a pass follows it at once, full when a full one was asked for (at most one
   * full pass per PASS_MS: executors reporting capacity ask for one each time), quick otherwise.
   */
  private owed: 'none' | 'quick' | 'full' = 'none';
  private lastFullAt = 0;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryDelayMs = RETRY_MIN_MS;
  private readonly repair: LeaderPass;
  private repairDueAt = 0;

  constructor(
    private readonly pending: PendingRuns,
    private readonly lost: LostRuns,
    private readonly launcher: RunLauncher,
    private readonly pool: ExecutorPool,
    private readonly timers: Timers,
    runs: RunsRepository,
    jobs: JobsRepository,
    events: EventsService,
    @Optional() private readonly brokerPending?: BrokerPendingRuns,
    @Optional() private readonly shards?: ShardOwnership,
    @Optional() positions?: DependencyLedger,
  ) {
    this.repair = new LeaderPass(
      new RetryRepair(runs, jobs, events),
      positions,
      'retry-repair',
      RETRY_REPAIR_LOOKBACK_MS,
    );
  }

  onApplicationBootstrap(): void {
    this.timers.every(PASS_NAME, PASS_MS, () => this.pass());
    this.pool.onCapacity(() => void this.pass());
    this.launcher.onOffered(({ started, waitingForRoom }) => {
      if (started) this.retryDelayMs = RETRY_MIN_MS;
      if (waitingForRoom) this.retrySoon();
    });
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.timers.clearInterval(PASS_NAME);
  }

  async pass(full = true): Promise<void> {
    if (this.stopped) return;
    if (this.running) {
      // A backlog's quick passes follow one another at once: the interval's full pass would nearly always find one
      // running, and expiry, lost-run detection and retry repair would wait for the backlog to drain. A quick pass
      // asked for (a retry after refusals for room) would be lost, and the retry wait grow to PASS_MS.
      if (full && Date.now() - this.lastFullAt >= PASS_MS) this.owed = 'full';
      else if (this.owed === 'none') this.owed = 'quick';
      return;
    }
    this.running = true;
    full ||= this.owed === 'full';
    this.owed = 'none';
    if (full) this.lastFullAt = Date.now();
    let backlog = false;
    try {
      const now = Date.now();
      if (full) await this.step('pending-run expiry', () => this.pending.expire(now));
      await this.step('pending-run offer', async () => {
        backlog = await this.pending.offer(now);
      });
      if (full && this.brokerPending) await this.step('broker publish', () => this.brokerPending!.pass(now));
      if (full) await this.step('lost-run detection', () => this.lost.find(now));
      if (full && now >= this.repairDueAt) {
        this.repairDueAt = now + REPAIR_MS;
        // It reads the whole ledger's changes: one dispatcher's work (the leader's, see ShardOwnership.leads).
        await this.step('retry repair', () => this.repair.run(this.shards?.leads ?? true, now));
      }
    } finally {
      this.running = false;
    }
    // A pass offers at most OFFER_LIMIT runs: while executors take them, the rest follow now rather than in PASS_MS.
    if (backlog || this.owed !== 'none') this.again();
  }

  private async step(what: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (e) {
      this.failures.warn(what, `${what} failed: ${(e as Error).message}`);
    }
  }

  /** The next pass (quick unless a full one is owed), once the event loop has served what waits (replies, ticks). */
  private again(): void {
    if (!this.stopped) setImmediate(() => void this.pass(false));
  }

  private retrySoon(): void {
    if (this.retryTimer || this.stopped) return;
    const delay = this.retryDelayMs;
    this.retryDelayMs = Math.min(this.retryDelayMs * 2, PASS_MS);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.pass(false);
    }, delay);
  }
}
