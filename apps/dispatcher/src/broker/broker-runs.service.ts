import { Injectable, Logger, Optional } from '@nestjs/common';
import { LogThrottle } from '@app/common';
import type { JobEntity, LedgerKey } from '@app/persistence';
import { RunsRepository } from '@app/persistence';
import { ExecutorPool } from '../executor-client/executor-pool.service';
import { DispatcherMetrics } from '../metrics/dispatcher-metrics';
import { BrokerPublisher, Publication } from './broker-publisher.service';
import { messageTtlMs } from './republish-rule';

/** A cancel message is dropped (dead-lettered as expired) after this long in an executor's control queue. */
export const CANCEL_TTL_MS = 10 * 60_000;

/** A run bound for the broker, with what publishing it needs to know of its row. */
export interface RunToQueue {
  run: LedgerKey & { deadlineAt?: number; queuedAt?: number | null };
  job: JobEntity;
}

/**
 * Publishes runs of broker groups: a group's runs to `{prefix}.runs.{group}`, a broadcast run to the control queue of
 * the executor it is for (its executor key is that executor's address; one not in discovery now is left pending for
 * the next pass). A run whose publish the broker confirmed gets `queued_at` in the ledger, so that the pending pass
 * does not publish it again; one not confirmed stays pending and unqueued, and is published again.
 */
@Injectable()
export class BrokerRuns {
  private readonly logger = new Logger(BrokerRuns.name);
  private readonly failures = new LogThrottle((m) => this.logger.warn(m));

  constructor(
    private readonly publisher: BrokerPublisher,
    private readonly runs: RunsRepository,
    private readonly pool: ExecutorPool,
    @Optional() private readonly metrics?: DispatcherMetrics,
  ) {}

  get enabled(): boolean {
    return this.publisher.enabled;
  }

  isBrokerGroup(group: string): boolean {
    return this.publisher.isBrokerGroup(group);
  }

  /** Whether each run's message was confirmed into its queue (and recorded as queued). */
  async publish(items: RunToQueue[]): Promise<boolean[]> {
    const now = Date.now();
    const byAddress = new Map(this.pool.executors().map((e) => [e.address, e.id]));
    const out = items.map(() => false);
    const pubs: { k: number; pub: Publication }[] = [];
    items.forEach(({ run, job }, k) => {
      const message = {
        kind: 'run' as const,
        runId: run.id,
        jobId: run.jobId,
        tickKey: run.tickKey,
        attempt: run.attempt,
      };
      const ttlMs = messageTtlMs(run.deadlineAt, now);
      if (run.executorKey === '') {
        pubs.push({ k, pub: { message, queue: { kind: 'runs', group: job.group }, ttlMs } });
        return;
      }
      const executorId = byAddress.get(run.executorKey);
      if (executorId) pubs.push({ k, pub: { message, queue: { kind: 'exec', executorId }, ttlMs } });
    });
    if (pubs.length === 0) return out;
    for (const { k } of pubs) {
      const group = items[k].job.group;
      this.metrics?.brokerPublished.inc({ group });
      if (items[k].run.queuedAt) this.metrics?.brokerRepublished.inc({ group });
    }
    const confirmed = await this.publisher.publish(pubs.map((p) => p.pub));
    const queued: number[] = [];
    confirmed.forEach((ok, i) => {
      if (!ok) return;
      const { k } = pubs[i];
      out[k] = true;
      queued.push(items[k].run.id);
      this.metrics?.brokerConfirmed.inc({ group: items[k].job.group });
    });
    try {
      await this.runs.markQueued(queued, now);
    } catch (e) {
      // Confirmed but not recorded: the pending pass publishes them once more, which the executors drop.
      this.failures.warn('queued', `cannot record ${queued.length} run(s) as queued: ${(e as Error).message}`);
    }
    return out;
  }

  /**
   * Sends a cancel to the control queue of the executor holding the run; whether the broker confirmed it. It lives
   * CANCEL_TTL_MS in the queue (an executor that is away that long has had its runs declared lost).
   */
  async cancel(executorId: string, runId: number, reason: string): Promise<boolean> {
    const [ok] = await this.publisher.publish([
      { message: { kind: 'cancel', runId, reason }, queue: { kind: 'exec', executorId }, ttlMs: CANCEL_TTL_MS },
    ]);
    return ok;
  }
}
