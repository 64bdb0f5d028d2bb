/**
 * Due times of many jobs behind one timer: a binary min-heap with lazy deletion. One setTimeout for the earliest
 * job instead of one timer object per job keeps 100,000 jobs cheap; the caller registers that one timer in
 * SchedulerRegistry. Punctuality is not relied on: the callback computes due ticks from the ledger cursor.
 */
export class DueQueue {
  private heap: { at: number; id: number }[] = [];
  private readonly dueAt = new Map<number, number>();
  private timer: NodeJS.Timeout | null = null;
  private armedFor = Infinity;
  private stopped = false;

  constructor(
    private readonly onDue: (ids: number[]) => void,
    private readonly onArm: (timer: NodeJS.Timeout | null) => void = () => undefined,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.dueAt.size;
  }

  /** Heap entries, live and stale: bounded by compact() to about twice the live ones. */
  get entries(): number {
    return this.heap.length;
  }

  set(id: number, at: number | null): void {
    if (this.stopped) return;
    if (at === null) {
      this.dueAt.delete(id);
      return;
    }
    if (this.dueAt.get(id) === at) return;
    this.dueAt.set(id, at);
    this.push({ at, id });
    this.compactIfStale();
    if (at < this.armedFor) this.arm();
  }

  delete(id: number): void {
    this.dueAt.delete(id);
    this.compactIfStale();
  }

  /**
   * Deletion is lazy: a removed or rescheduled job's old entry stays in the heap until it reaches the top, which for
   * a yearly job is a year. When stale entries outnumber live ones, the heap is rebuilt from the live due times, so
   * churn (jobs created and deleted, schedules changed) can not grow it beyond twice the jobs scheduled.
   */
  private compactIfStale(): void {
    if (this.heap.length <= 2 * this.dueAt.size + 1024) return;
    this.heap = [...this.dueAt].map(([id, at]) => ({ at, id }));
    // Floyd's heap construction: sift down from the last parent.
    for (let i = (this.heap.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  /** For good: later set() calls do nothing, so nothing re-arms a timer after shutdown. */
  stop(): void {
    this.stopped = true;
    this.disarm();
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.armedFor = Infinity;
    this.onArm(null);
  }

  /** Pops every job due by now and hands their ids over; each must be set() again by the caller. */
  fire(): void {
    this.timer = null;
    this.armedFor = Infinity;
    const now = this.now();
    const due: number[] = [];
    while (this.heap.length > 0 && this.heap[0].at <= now) {
      const top = this.pop();
      if (this.dueAt.get(top.id) === top.at) {
        this.dueAt.delete(top.id);
        due.push(top.id);
      }
    }
    this.arm();
    if (due.length > 0) this.onDue(due);
  }

  private arm(): void {
    // Drop stale entries at the top so the timer aims at a live one.
    while (this.heap.length > 0 && this.dueAt.get(this.heap[0].id) !== this.heap[0].at) this.pop();
    if (this.heap.length === 0) {
      this.disarm();
      return;
    }
    const at = this.heap[0].at;
    if (this.timer && at >= this.armedFor) return;
    if (this.timer) clearTimeout(this.timer);
    const delay = Math.min(Math.max(at - this.now(), 0), 2 ** 31 - 1);
    this.armedFor = at;
    this.timer = setTimeout(() => this.fire(), delay);
    this.onArm(this.timer);
  }

  private push(e: { at: number; id: number }): void {
    const h = this.heap;
    h.push(e);
    for (let i = h.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (h[p].at <= h[i].at) break;
      [h[p], h[i]] = [h[i], h[p]];
      i = p;
    }
  }

  private pop(): { at: number; id: number } {
    const h = this.heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      this.siftDown(0);
    }
    return top;
  }

  private siftDown(from: number): void {
    const h = this.heap;
    for (let i = from; ;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && h[l].at < h[m].at) m = l;
      if (r < h.length && h[r].at < h[m].at) m = r;
      if (m === i) break;
      [h[m], h[i]] = [h[i], h[m]];
      i = m;
    }
  }
}
