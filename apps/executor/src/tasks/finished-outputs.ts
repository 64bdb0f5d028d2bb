import type { LiveOutput } from './runners/live-output';

/** How long a finished run's live output stays readable after its slot is freed. */
export const FINISHED_GRACE_MS = 30_000;
/** Finished runs kept at once; the oldest goes first. */
export const FINISHED_MAX_RUNS = 64;
/** Ring memory they may hold together (64 rings of 256 KiB would be 16 MiB). */
export const FINISHED_MAX_BYTES = 8 * 1024 * 1024;

/**
 * The live output of runs that just ended, for a short grace after their slot is freed: a follower that reached
 * the per-call cap (and was told to call again) or lost its call as the run ended finds the rest there instead of
 * NOT_FOUND, where the ledger's output is at most 64 KiB and the last part of the stream would be lost. Bounded in
 * count and in memory; an entry goes when its grace is over or when a newer one needs the room.
 */
export class FinishedOutputs {
  private readonly entries = new Map<number, { live: LiveOutput; timer: NodeJS.Timeout }>();
  private bytes = 0;

  constructor(
    private readonly graceMs = FINISHED_GRACE_MS,
    private readonly maxRuns = FINISHED_MAX_RUNS,
    private readonly maxBytes = FINISHED_MAX_BYTES,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get heldBytes(): number {
    return this.bytes;
  }

  keep(runId: number, live: LiveOutput): void {
    this.drop(runId);
    const size = live.memoryBytes;
    if (size > this.maxBytes) return;
    for (const oldest of this.entries.keys()) {
      if (this.entries.size < this.maxRuns && this.bytes + size <= this.maxBytes) break;
      this.drop(oldest);
    }
    const timer = setTimeout(() => this.drop(runId), this.graceMs);
    timer.unref();
    this.entries.set(runId, { live, timer });
    this.bytes += size;
  }

  get(runId: number): LiveOutput | undefined {
    return this.entries.get(runId)?.live;
  }

  clear(): void {
    for (const runId of [...this.entries.keys()]) this.drop(runId);
  }

  private drop(runId: number): void {
    const entry = this.entries.get(runId);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.entries.delete(runId);
    this.bytes -= entry.live.memoryBytes;
  }
}
