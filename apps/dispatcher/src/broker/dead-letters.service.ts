import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, Optional } from '@nestjs/common';
import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import { LogThrottle } from '@app/common';
import type { BrokerDeadLetterJson } from '@app/contract';
import { assertDeadLetters, brokerNames, deathReason, parseMessage } from '@app/broker';
import { RunsRepository } from '@app/persistence';
import { EventsService } from '../events/events.service';
import { DispatcherMetrics } from '../metrics/dispatcher-metrics';
import { BrokerPublisher, ConsumerChannel } from './broker-publisher.service';
import { deadLetterDecision } from './dead-letter-decision';

const PREFETCH = 20;
/** A dead letter the ledger could not take now goes back to the queue after this pause. */
const RETRY_PAUSE_MS = 1000;
const RECENT = 20;

/** One dead letter as GET /api/broker lists it. */
export type DeadLetterEntry = BrokerDeadLetterJson;

/**
 * Consumes `{prefix}.dead` (every dispatcher does; the queue shares them out): a dead letter that names a pending run
 * as the ledger holds it fails the run with `dead-lettered: <reason>` (compare-and-set pending → failed), any other
 * is dropped (counted, and kept among the recent ones GET /api/broker shows). Acked once the ledger has it.
 */
@Injectable()
export class DeadLetters implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(DeadLetters.name);
  private readonly failures = new LogThrottle((m) => this.logger.warn(m));
  private channel: ConsumerChannel | null = null;
  private readonly recentList: DeadLetterEntry[] = [];
  private handledCount = 0;
  private stopped = false;

  constructor(
    private readonly publisher: BrokerPublisher,
    private readonly runs: RunsRepository,
    private readonly events: EventsService,
    @Optional() private readonly metrics?: DispatcherMetrics,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.publisher.enabled) return;
    const prefix = this.publisher.prefix;
    const dead = brokerNames.dead(prefix);
    const subscribe = async (ch: ConfirmChannel): Promise<void> => {
      await assertDeadLetters(ch, prefix);
      await ch.prefetch(PREFETCH);
      await ch.consume(dead, (msg) => (msg ? void this.handle(ch, msg) : this.cancelledByServer(ch, subscribe)), {
        noAck: false,
      });
    };
    this.channel = this.publisher.consumerChannel(subscribe, `dead-letter channel (${dead})`);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    await this.channel?.close().catch(() => undefined);
  }

  /**
   * The broker cancelled the consumer (the queue was deleted): declared again and consumed again on the same channel.
   * A failure there (the broker closes the channel) sets the consumer up again on a new channel after a pause.
   */
  private cancelledByServer(ch: ConfirmChannel, subscribe: (ch: ConfirmChannel) => Promise<void>): void {
    if (this.stopped) return;
    this.logger.warn(
      `the broker cancelled the consumer of ${brokerNames.dead(this.publisher.prefix)}; declaring it again`,
    );
    subscribe(ch).catch((e: Error) => {
      this.failures.warn('dead-resubscribe', `cannot consume dead letters: ${e.message}`);
      this.channel?.reopen();
    });
  }

  /** Dead letters handled since start, and the most recent ones. */
  summary(): { handled: number; recent: DeadLetterEntry[] } {
    return { handled: this.handledCount, recent: [...this.recentList] };
  }

  private async handle(ch: ConfirmChannel, msg: ConsumeMessage): Promise<void> {
    const parsed = parseMessage(msg.content);
    const death = deathReason(msg.properties.headers);
    const runId = 'problem' in parsed ? null : parsed.runId;
    try {
      const row = runId === null ? null : await this.runs.findById(runId);
      const decision = deadLetterDecision(parsed, row, death, this.publisher.prefix);
      let outcome: string;
      if (decision.kind === 'fail') {
        const moved = await this.runs.finish(
          runId!,
          { status: 'failed', finishedAt: Date.now(), error: decision.error },
          ['pending'],
        );
        outcome = moved ? 'failed the run' : 'run no longer pending';
        if (moved) {
          this.logger.warn({ msg: `run failed: ${decision.error}`, runId, jobId: row?.jobId });
          this.events.runChanged(runId!);
        }
      } else if (decision.kind === 'republish') {
        const cleared = await this.runs.forgetQueuedRun(runId!);
        outcome = cleared ? 'published again' : 'run no longer pending';
        if (cleared) this.logger.warn({ msg: decision.why, runId, jobId: row?.jobId });
      } else {
        outcome = `dropped: ${decision.why}`;
      }
      // The ledger's job first: the message's is only what the publisher wrote (the run page corrects a wrong one).
      const jobId = row?.jobId ?? (!('problem' in parsed) && parsed.kind === 'run' ? parsed.jobId : null);
      this.note({ at: new Date().toISOString(), runId, jobId, reason: death.reason, queue: death.queue, outcome });
      this.metrics?.brokerDeadLettered.inc({ reason: death.reason, outcome: decision.kind });
      ack(ch, msg);
    } catch (e) {
      this.failures.warn('dead', `cannot handle a dead letter of run ${runId ?? '?'}: ${(e as Error).message}`);
      setTimeout(() => this.stopped || nack(ch, msg), RETRY_PAUSE_MS).unref();
    }
  }

  private note(entry: DeadLetterEntry): void {
    this.handledCount++;
    this.recentList.unshift(entry);
    if (this.recentList.length > RECENT) this.recentList.pop();
  }
}

/** On the channel the message came on; a channel closed since (reconnect) has redelivered it already. */
function ack(ch: ConfirmChannel, msg: ConsumeMessage): void {
  try {
    ch.ack(msg);
  } catch {
    // channel closed: the broker redelivers the message, and the decision is made again
  }
}

function nack(ch: ConfirmChannel, msg: ConsumeMessage): void {
  try {
    ch.nack(msg, false, true);
  } catch {
    // channel closed: redelivered anyway
  }
}
