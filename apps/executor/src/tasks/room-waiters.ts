/** At most this many RunBatch calls are held for room at once; a call beyond them is answered at once. */
export const MAX_ROOM_WAITERS = 64;

interface Waiter {
  readonly order: number;
  wake(): void;
}

/**
 * RunBatch calls held for room (RunBatchRequest.wait_ms), first come first served. When slots are freed, the oldest
 * waiter is woken once the freeing is over (a result flush frees up to 256 slots in one go: one wake for all of them,
 * not one per slot); a waiter that leaves room after taking what fits wakes the next (`passOn`), one that found too
 * little waits on in its place (by its ticket, the order the calls came in). A waiter not woken within its time is
 * dropped and answered by its caller as it stands; so is one beyond MAX_ROOM_WAITERS.
 *
 * `generation` counts the freeings, woken or not: a call that was deciding (out of the queue) while slots were freed
 * sees it changed and tries again at once instead of waiting for a wake that went to no one.
 */
export class RoomWaiters {
  private readonly queue: Waiter[] = [];
  private wakeScheduled = false;
  private tickets = 0;
  private freeings = 0;

  get size(): number {
    return this.queue.length;
  }

  /** The ticket of the call first in line; Infinity when none waits. */
  get headOrder(): number {
    return this.queue[0]?.order ?? Infinity;
  }

  get generation(): number {
    return this.freeings;
  }

  /** A call's place in line, taken once when it comes in and kept over its waits. */
  ticket(): number {
    return ++this.tickets;
  }

  /** Resolves true when woken for room, false when `ms` passed first or MAX_ROOM_WAITERS calls wait already. */
  wait(ms: number, order: number): Promise<boolean> {
    if (this.queue.length >= MAX_ROOM_WAITERS) return Promise.resolve(false);
    return new Promise((resolve) => {
      const entry: Waiter = {
        order,
        wake: () => {
          clearTimeout(timer);
          resolve(true);
        },
      };
      const timer = setTimeout(() => {
        const i = this.queue.indexOf(entry);
        if (i >= 0) this.queue.splice(i, 1);
        resolve(false);
      }, ms);
      let at = this.queue.length;
      while (at > 0 && this.queue[at - 1].order > order) at--;
      this.queue.splice(at, 0, entry);
    });
  }

  /** Slots were freed: the oldest waiter is woken on the next turn of the event loop. */
  freed(): void {
    this.freeings++;
    if (this.wakeScheduled || this.queue.length === 0) return;
    this.wakeScheduled = true;
    setImmediate(() => {
      this.wakeScheduled = false;
      this.queue.shift()?.wake();
    });
  }

  /** A woken waiter took what fitted and room is left: the next one tries. */
  passOn(): void {
    this.queue.shift()?.wake();
  }
}
