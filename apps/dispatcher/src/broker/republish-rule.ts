import type { RunEntity } from '@app/persistence';

/** A publish not confirmed within this long counts as not published (the run stays pending, published again). */
export const PUBLISH_TIMEOUT_MS = 5000;
/**
 * A run never confirmed is published by its claimer; the pending pass leaves it that long before publishing it
 * itself. The claimer may wait up to PUBLISH_TIMEOUT_MS for its confirm and then write `queued_at`: with less than
 * that, every other dispatcher's pass (every 500 ms) would publish another copy of a run whose confirm is merely slow
 * (a quorum queue's fsync under a burst, a memory alarm). Twice the timeout leaves room for the write.
 */
export const FRESH_MS = 2 * PUBLISH_TIMEOUT_MS;
/**
 * A run confirmed this long ago and still pending is published again: its message may have been lost with a queue
 * the broker lost (deleted, or a node's disk gone). Quorum queues keep confirmed messages across restarts, so this is
 * a backstop, not the path: a queue with a backlog of this age gets one more message per waiting run at most every
 * REPUBLISH_AFTER_MS, which the executors ack and drop (the ledger says they are not pending any more).
 */
export const REPUBLISH_AFTER_MS = 5 * 60_000;
/** A message lives this long past its run's deadline in the queue (the expiry pass fails the run first). */
export const TTL_GRACE_MS = 60_000;

/** The bounds findPublishable reads with at `now`. */
export function publishBounds(now: number): { freshBefore: number; staleBefore: number } {
  return { freshBefore: now - FRESH_MS, staleBefore: now - REPUBLISH_AFTER_MS };
}

/** The same rule for one run (what findPublishable selects): due, and never confirmed or confirmed long ago. */
export function needsPublish(
  run: Pick<RunEntity, 'status' | 'notBefore' | 'queuedAt' | 'createdAt'>,
  now: number,
): boolean {
  if (run.status !== 'pending' || run.notBefore > now) return false;
  const { freshBefore, staleBefore } = publishBounds(now);
  return run.queuedAt === null ? run.createdAt <= freshBefore : run.queuedAt <= staleBefore;
}

/** The per-message TTL of a run's message: until its deadline, and a grace after. */
export function messageTtlMs(deadlineAt: number | undefined, now: number): number | undefined {
  return deadlineAt === undefined ? undefined : Math.max(0, deadlineAt - now) + TTL_GRACE_MS;
}
