import { Logger } from '@nestjs/common';

/**
 * One mailbox per job: its messages (tick, update, delete) are handled one at a time, in order, so
 * a PATCH during a tick or two overlapping ticks can not race the concurrency and misfire policies.
 */
export class JobMailboxes {
  private readonly logger = new Logger(JobMailboxes.name);
  private readonly tails = new Map<number, Promise<void>>();

  post(jobId: number, what: string, handler: () => Promise<void>): Promise<void> {
    const previous = this.tails.get(jobId) ?? Promise.resolve();
    const next = previous.then(handler).catch((e: Error) => {
      this.logger.error({ msg: `${what} failed: ${e.message}`, jobId, stack: e.stack });
    });
    this.tails.set(jobId, next);
    void next.then(() => {
      if (this.tails.get(jobId) === next) this.tails.delete(jobId);
    });
    return next;
  }

  /** Whether the job has a message queued or being handled. */
  busy(jobId: number): boolean {
    return this.tails.has(jobId);
  }

  /** Resolves once every message posted so far is handled. */
  async drain(): Promise<void> {
    await Promise.all([...this.tails.values()]);
  }
}
