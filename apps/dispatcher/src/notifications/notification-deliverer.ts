import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { NotificationRow, NotificationsRepository, NotifyChannel } from '@app/persistence';
import { ChannelSenders, DeliveryError } from './channel-senders';
import type { NotificationFacts } from './notification-body';

/** Attempts of one delivery before it is `failed`. With the back-off below, about 21 minutes of retrying. */
export const MAX_ATTEMPTS = 8;
/** The wait after the first failed attempt; doubling after each, up to RETRY_MAX_MS, each drawn from [½, 1½)×. */
export const RETRY_BASE_MS = 10_000;
export const RETRY_MAX_MS = 60 * 60_000;
/**
 * How long a claimed row is this deliverer's: far beyond one attempt (10 s per request, at most 30 s over SMTP's
 * stages), so only a dispatcher that died (or froze) mid-delivery loses it; another then delivers it, with the same
 * delivery id.
 */
export const LEASE_MS = 60_000;
/** Rows claimed a pass, and delivered at once. */
const BATCH = 32;
const CONCURRENCY = 4;

/** The wait before attempt `attempt + 1`, after attempt `attempt` (from 1) failed; `random` in [0, 1). */
export function retryDelay(attempt: number, random = Math.random()): number {
  const nominal = Math.min(RETRY_BASE_MS * 2 ** (attempt - 1), RETRY_MAX_MS);
  return Math.floor(nominal * (0.5 + random));
}

export type DeliveryResult = 'sent' | 'retried' | 'failed' | 'postponed' | 'lost';

export interface DeliveryCounters {
  delivered(channel: NotifyChannel, result: 'sent' | 'retried' | 'failed'): void;
}

/**
 * Delivers the outbox: claims due rows under a lease (a compare-and-set: of several dispatchers, one takes a row),
 * sends each on its channel, and marks it sent, schedules its next attempt with doubling back-off and jitter, or
 * fails it after MAX_ATTEMPTS (at once when another attempt can not help: an egress refusal). Its own timer, its own
 * bounded concurrency: never on the tick path.
 *
 * Folding: a row's first attempt takes its (job, event, channel)'s slot for `[notify] min_interval` (a compare-and-set
 * on notification_gates). When the slot is taken, the row waits for it to free; when it frees, the first row through
 * folds every other waiting row of the key into its own delivery (`folded` counts them; each records `folded_into`),
 * and they end as it ends. So at most one delivery per key and interval starts, and no event is dropped: each row
 * ends `sent` or `failed`, as itself or folded into another.
 */
export class NotificationDeliverer {
  private readonly logger = new Logger(NotificationDeliverer.name);
  /** This process's lease owner: the dispatcher id and a nonce (a restarted dispatcher is another owner). */
  readonly owner: string;

  constructor(
    private readonly outbox: NotificationsRepository,
    private readonly senders: ChannelSenders,
    private readonly minIntervalMs: number,
    dispatcherId: string,
    private readonly counters?: DeliveryCounters,
  ) {
    this.owner = `${dispatcherId}:${randomUUID().slice(0, 8)}`.slice(0, 128);
  }

  /** One pass: the due rows, CONCURRENCY at a time. Answers what became of each row it looked at. */
  async pass(now = Date.now()): Promise<DeliveryResult[]> {
    const due = await this.outbox.findDue(now, BATCH);
    const results: DeliveryResult[] = [];
    let next = 0;
    const worker = async () => {
      while (next < due.length) {
        const row = due[next++];
        try {
          results.push(await this.deliver(row.id, Date.now()));
        } catch (e) {
          // A database error: the lease runs out, and the row is taken again then.
          this.logger.warn({ msg: `notification ${row.id} not delivered: ${(e as Error).message}`, jobId: row.jobId });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, due.length) }, worker));
    return results;
  }

  /** Claims and delivers one row (when it is still due and free). */
  async deliver(id: number, now: number): Promise<DeliveryResult> {
    const row = await this.outbox.claim(id, this.owner, now, LEASE_MS);
    if (!row) return 'lost';
    let folded = row.folded;
    if (row.attempts === 0 && this.minIntervalMs > 0) {
      const slot = await this.outbox.takeSlot(row, now, this.minIntervalMs);
      if (!slot.taken) {
        await this.outbox.postpone(row, slot.freeAt, now);
        return 'postponed';
      }
      folded = await this.outbox.foldInto(row, now);
    }
    if (!(await this.outbox.startAttempt(row, now))) return 'lost';
    const attempt = row.attempts + 1;
    try {
      await this.senders[row.channel].send(
        { deliveryId: row.deliveryId, facts: JSON.parse(row.payload) as NotificationFacts, folded, target: row.target },
        Date.now(),
      );
    } catch (e) {
      return this.failedAttempt(row, attempt, e);
    }
    if (!(await this.outbox.markSent(row, Date.now()))) return 'lost';
    this.counters?.delivered(row.channel, 'sent');
    return 'sent';
  }

  private async failedAttempt(row: NotificationRow, attempt: number, e: unknown): Promise<DeliveryResult> {
    // Only our own messages (and scrubbed ones) reach here; anything else is named by its kind alone.
    const reason = e instanceof DeliveryError ? e.message : `delivery failed (${(e as Error)?.name ?? 'error'})`;
    const now = Date.now();
    const context = { jobId: row.jobId, runId: row.runId, notificationId: row.id, channel: row.channel };
    if ((e instanceof DeliveryError && e.permanent) || attempt >= MAX_ATTEMPTS) {
      if (!(await this.outbox.markFailed(row, `attempt ${attempt}: ${reason}`, now))) return 'lost';
      this.counters?.delivered(row.channel, 'failed');
      this.logger.warn({ msg: `notification given up after attempt ${attempt}: ${reason}`, ...context });
      return 'failed';
    }
    const at = now + retryDelay(attempt);
    if (!(await this.outbox.retryAt(row, at, `attempt ${attempt}: ${reason}`, now))) return 'lost';
    this.counters?.delivered(row.channel, 'retried');
    return 'retried';
  }
}
