import { Logger } from '@nestjs/common';
import { TickLock, tickLockKey } from '@app/locking';
import { JobEntity, NewRun, RunBatchRepository } from '@app/persistence';
import { EventsService } from '../events/events.service';
import { RunLauncher, RunToOffer } from './run-launcher.service';
import { tickKeyOf } from './tick-keys';

/**
 * A tick lock outlives the claim (milliseconds) by far; the ledger key is the real fence if it does not. Short, so
 * a holder that dies between lock and insert delays the tick by at most this much.
 */
export const LOCK_TTL_MS = 5_000;
/** Rows inserted (and offered) at a time within one firing. */
const PIPELINE_SLICE = 250;

interface TickRequest {
  job: JobEntity;
  at: number;
  trigger: 'schedule' | 'misfire';
  resolve: (claimedOrTaken: boolean) => void;
  reject: (e: Error) => void;
}

/**
 * Claims the ticks of one timer firing together: one lock call for all their keys, one query for the runs the
 * concurrency policies look at, one INSERT for the run rows, and one RunBatch call per executor. Each job's mailbox
 * still asks for its own tick and waits for its own answer, so per-job ordering is unchanged; the requests that
 * arrive in the same turn of the event loop share the round trips. At 1,000 ticks a second the one-tick-at-a-time
 * path spent its time in round trips and TypeORM (docs/benchmarks.md).
 *
 * For jobs with `broadcast` routing or `replace` concurrency the scheduler keeps the one-tick path: they need
 * per-tick reads (records of other executors, runs to cancel) that do not batch.
 */
export class TickClaimer {
  private readonly logger = new Logger(TickClaimer.name);
  private queue: TickRequest[] = [];
  private flushQueued = false;

  constructor(
    private readonly lock: TickLock,
    private readonly ledger: RunBatchRepository,
    private readonly launcher: RunLauncher,
    private readonly events: EventsService,
    private readonly lockPrefix: string,
    private readonly dispatcherId: string,
  ) {}

  static handles(job: JobEntity): boolean {
    return job.routing !== 'broadcast' && job.concurrency !== 'replace';
  }

  /**
   * Claims the tick: true when it is claimed now (by us, as a run or a `skipped` record) or already was; false when
   * another dispatcher holds its lock right now (the caller looks again shortly).
   */
  fire(job: JobEntity, at: number, trigger: 'schedule' | 'misfire'): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.queue.push({ job, at, trigger, resolve, reject });
      if (!this.flushQueued) {
        this.flushQueued = true;
        // After the current turn: every mailbox woken by this timer firing has asked by then.
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    this.flushQueued = false;
    const batch = this.queue;
    this.queue = [];
    try {
      await this.claim(batch);
    } catch (e) {
      for (const r of batch) r.reject(e as Error);
    }
  }

  /** Hands the slice's claimed pending runs to the executors, without waiting for their answers. */
  private offer(rows: NewRun[], ids: (number | null)[], requests: TickRequest[]): void {
    const offers: { run: RunToOffer; job: JobEntity }[] = [];
    ids.forEach((id, k) => {
      if (id === null) return; // another dispatcher claimed this tick
      this.events.runChanged(id);
      const row = rows[k];
      if (row.status === 'pending') offers.push({ run: { ...row, id, executorKey: '' }, job: requests[k].job });
    });
    if (offers.length === 0) return;
    void this.launcher
      .offerMany(offers)
      .then((outcomes) => outcomes.forEach((o, k) => o === 'started' && this.events.runChanged(offers[k].run.id)))
      .catch((e: Error) => this.logger.warn(`offer of ${offers.length} run(s) failed: ${e.message}`));
  }

  private async claim(batch: TickRequest[]): Promise<void> {
    const keys = batch.map((r) => tickLockKey(this.lockPrefix, r.job.id, tickKeyOf(r.at), 1));
    const held = await this.lock.tryAcquireMany(keys, LOCK_TTL_MS);
    const mine = batch.filter((r, i) => {
      if (!held[i]) r.resolve(false);
      return held[i];
    });
    try {
      const now = Date.now();
      const watched = [...new Set(mine.filter((r) => r.job.concurrency !== 'allow').map((r) => r.job.id))];
      const active = await this.ledger.findActiveOf(watched);
      const rows: NewRun[] = [];
      const rowOf: TickRequest[] = [];
      for (const r of mine) {
        const tickKey = tickKeyOf(r.at);
        const base = {
          jobId: r.job.id,
          tickKey,
          attempt: 1,
          executorKey: '',
          scheduledAt: r.at,
          trigger: r.trigger,
          deadlineAt: r.at + r.job.timeoutMs,
          dispatcherId: this.dispatcherId,
        };
        const runs = r.job.concurrency === 'allow' ? [] : (active.get(r.job.id) ?? []);
        // This very tick already has its run (another dispatcher, or a stale cursor here): nothing to do.
        if (runs.some((a) => a.tickKey === tickKey)) continue;
        if (runs.length > 0) {
          rows.push({
            ...base,
            status: 'skipped',
            error: `run ${runs[0].id} of this job was still ${runs[0].status} (concurrency: forbid)`,
          });
        } else {
          rows.push({ ...base, status: 'pending', notBefore: now });
        }
        rowOf.push(r);
      }
      // A slice at a time, each offered as soon as it is in the ledger: the executor takes the first slice while
      // the next is being inserted, so the last run of a large firing starts sooner.
      for (let c = 0; c < rows.length; c += PIPELINE_SLICE) {
        if (c > 0) await new Promise((resolve) => setImmediate(resolve)); // let the previous slice's call go out
        const slice = rows.slice(c, c + PIPELINE_SLICE);
        const ids = await this.ledger.claimMany(slice, now);
        this.offer(slice, ids, rowOf.slice(c, c + PIPELINE_SLICE));
      }
      for (const r of mine) r.resolve(true);
    } finally {
      await this.lock.releaseMany(keys.filter((_, i) => held[i]));
    }
  }
}
