import { Injectable, Logger, MessageEvent, OnApplicationShutdown } from '@nestjs/common';
import { Observable, Subject } from 'rxjs';
import type { ChangeEvent } from '@app/contract';
import { RunsRepository } from '@app/persistence';
import { Timers } from '../common/timers.service';

const POLL_NAME = 'gocron-event-feed';
const POLL_MS = 1000;

/**
 * Job and run changes for `GET /api/events`. Runs change on executors too (they write the ledger themselves), so
 * while anyone listens the ledger is polled for rows updated since the last look.
 */
@Injectable()
export class EventsService implements OnApplicationShutdown {
  private readonly logger = new Logger(EventsService.name);
  private readonly subject = new Subject<ChangeEvent>();
  private listeners = 0;
  /** Rows updated after this instant (ms) are looked at on the next poll. */
  private changedSince = Date.now();
  private readonly seen = new Map<number, string>();

  constructor(
    private readonly runs: RunsRepository,
    private readonly timers: Timers,
  ) {}

  jobChanged(jobId: number, action: 'created' | 'updated' | 'deleted'): void {
    this.subject.next({ type: 'job', action, jobId });
  }

  runChanged(runId: number): void {
    this.subject.next({ type: 'run', runId });
  }

  stream(): Observable<MessageEvent> {
    return new Observable<MessageEvent>((subscriber) => {
      if (this.listeners++ === 0) this.timers.every(POLL_NAME, POLL_MS, () => this.poll());
      const sub = this.subject.subscribe((e) => subscriber.next({ type: e.type, data: e }));
      return () => {
        sub.unsubscribe();
        if (--this.listeners === 0) this.timers.clearInterval(POLL_NAME);
      };
    });
  }

  private async poll(): Promise<void> {
    try {
      // Overlap the window by a second: writers' clocks and commit order are not exact.
      const rows = await this.runs.findChangedSince(this.changedSince - 1000, 500);
      for (const r of rows) {
        const key = `${r.status}:${r.updatedAt}`;
        if (this.seen.get(r.id) === key) continue;
        this.seen.set(r.id, key);
        this.subject.next({ type: 'run', runId: r.id, jobId: r.jobId, status: r.status });
        this.changedSince = Math.max(this.changedSince, r.updatedAt);
      }
      if (this.seen.size > 10_000) this.seen.clear();
    } catch (e) {
      this.logger.warn(`event poll failed: ${(e as Error).message}`);
    }
  }

  onApplicationShutdown(): void {
    this.timers.clearInterval(POLL_NAME);
    this.subject.complete();
  }
}
