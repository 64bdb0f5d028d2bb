import { Injectable, Logger, MessageEvent, OnApplicationShutdown } from '@nestjs/common';
import { Observable, Subject } from 'rxjs';
import { LogThrottle } from '@app/common';
import type { ChangeEvent } from '@app/contract';
import { ApiReads, ChangedRun } from '@app/persistence';
import { ChangeFeed } from '../common/change-feed';
import { Timers } from '../common/timers.service';

const POLL_NAME = 'gocron-event-feed';
const POLL_MS = 1000;
/** Executors' clocks and commit delays stay within this; a run's change is sent once either way. */
const SETTLE_MS = 3000;

/**
 * Job and run changes for `GET /api/events`. Runs change on executors too (they write the ledger themselves), so
 * while anyone listens the ledger is polled for rows updated since the last look.
 */
@Injectable()
export class EventsService implements OnApplicationShutdown {
  private readonly logger = new Logger(EventsService.name);
  private readonly subject = new Subject<ChangeEvent>();
  private listeners = 0;
  private feed: ChangeFeed<ChangedRun> | null = null;
  private polling = false;
  private readonly failures = new LogThrottle((m) => this.logger.warn(m));

  constructor(
    private readonly reads: ApiReads,
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
      if (this.listeners++ === 0) {
        // The ledger's change feed from now on (ApiReads.runsChangedAfter: a keyset cursor on (updated_at, id)).
        this.feed = new ChangeFeed(
          (after, upTo, limit) => this.reads.runsChangedAfter(after, upTo, limit),
          (r) => ({ at: r.updatedAt, id: r.id, revision: r.status }),
          { settleMs: SETTLE_MS, pageSize: 500, maxPages: 10 },
        );
        this.timers.every(POLL_NAME, POLL_MS, () => this.poll());
      }
      const sub = this.subject.subscribe((e) => subscriber.next({ type: e.type, data: e }));
      return () => {
        sub.unsubscribe();
        if (--this.listeners === 0) this.timers.clearInterval(POLL_NAME);
      };
    });
  }

  private async poll(): Promise<void> {
    const feed = this.feed;
    if (!feed || this.polling) return;
    this.polling = true;
    try {
      for (const r of await feed.poll()) {
        this.subject.next({ type: 'run', runId: r.id, jobId: r.jobId, status: r.status });
      }
    } catch (e) {
      this.failures.warn('poll', `event poll failed: ${(e as Error).message}`);
    } finally {
      this.polling = false;
    }
  }

  /** Before the HTTP server closes (it waits for open connections): every open event stream ends now. */
  beforeApplicationShutdown(): void {
    this.timers.clearInterval(POLL_NAME);
    this.subject.complete();
  }

  onApplicationShutdown(): void {
    this.beforeApplicationShutdown();
  }
}
