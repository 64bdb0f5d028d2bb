import { Injectable } from '@nestjs/common';
import { FinishedOutputs } from './finished-outputs';
import type { LiveOutput } from './runners/live-output';
import type { RunningTask } from './runners/task-runner';

/**
 * Why a run is being stopped before its task ends on its own. The kind decides the status recorded: `cancelled`
 * (a user, `replace`, a deleted job, a final status in the ledger) or `lost` (this executor is going away or lost
 * its lease, so the job's retries apply). Only the executor itself decides `lost`: no string a caller sends does.
 */
export type StopReason = { kind: 'cancelled' | 'lost'; message: string };

/** A run this executor holds: from the slot's reservation (before its start is recorded) until its result is. */
export interface ActiveRun {
  readonly runId: number;
  readonly jobId: number;
  /** Null until the task is launched. */
  task: RunningTask | null;
  stop: StopReason | null;
  /** The output as followers read it (FollowOutput); null until the task is launched. */
  live: LiveOutput | null;
}

/**
 * The runs this executor holds, at most `capacity` of them. A slot is reserved before the ledger's
 * compare-and-set, so concurrent sends can not exceed capacity, and freed once the run's result is recorded.
 */
@Injectable()
export class ActiveRuns {
  private readonly slots = new Map<number, ActiveRun>();
  private readonly releaseListeners: (() => void)[] = [];
  /** Live output of runs whose slot was freed, readable for a short grace (finished-outputs.ts). */
  readonly finished = new FinishedOutputs();

  get size(): number {
    return this.slots.size;
  }

  has(runId: number): boolean {
    return this.slots.has(runId);
  }

  get(runId: number): ActiveRun | undefined {
    return this.slots.get(runId);
  }

  ids(): number[] {
    return [...this.slots.keys()];
  }

  all(): IterableIterator<ActiveRun> {
    return this.slots.values();
  }

  reserve(runId: number, jobId: number): ActiveRun {
    const slot: ActiveRun = { runId, jobId, task: null, stop: null, live: null };
    this.slots.set(runId, slot);
    return slot;
  }

  release(runId: number): void {
    const slot = this.slots.get(runId);
    if (!slot) return;
    this.slots.delete(runId);
    if (slot.live?.status != null) this.finished.keep(runId, slot.live);
    for (const listener of this.releaseListeners) listener();
  }

  /** The output followers read: the run's while it is held, then a finished run's for a short grace. */
  liveOutput(runId: number): LiveOutput | undefined {
    return this.slots.get(runId)?.live ?? this.finished.get(runId);
  }

  /** Called after a slot is freed (the broker consumer sizes its prefetch by the free slots). */
  onRelease(listener: () => void): void {
    this.releaseListeners.push(listener);
  }

  /** Stops one run: its task now if it is launched, its launch otherwise. The first reason given stands. */
  stop(slot: ActiveRun, reason: StopReason): void {
    slot.stop ??= reason;
    slot.task?.cancel(reason.message);
  }

  stopAll(reason: StopReason): void {
    for (const slot of this.slots.values()) this.stop(slot, reason);
  }
}
