/**
 * RunBatch calls held for room (RunBatchRequest.wait_ms), first come first served. When slots are freed, the oldest
 * waiter is woken once the freeing is over (a result flush frees up to 256 slots in one go: one wake for all of them,
 * not one per slot); a waiter that leaves room after taking what fits wakes the next (`passOn`), one that found too
 * little waits on at the front. A waiter not woken
 * within its time is dropped and answered by its caller as it stands.
 */
export class RoomWaiters {
  private readonly queue: { wake: () => void }[] = [];
  private wakeScheduled = false;

  get size(): number {
    return this.queue.length;
  }

  /**
   * Resolves true when woken for room, false when `ms` passed first. `again`: a call woken before that still has
   * runs without room keeps its place at the front.
   */
  wait(ms: number, again = false): Promise<boolean> {
    return new Promise((resolve) => {
      const entry = {
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
      if (again) this.queue.unshift(entry);
      else this.queue.push(entry);
    });
  }

  /** Slots were freed: the oldest waiter is woken on the next turn of the event loop. */
  freed(): void {
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
