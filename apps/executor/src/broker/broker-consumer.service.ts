import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import amqp, { AmqpConnectionManager, ChannelWrapper } from 'amqp-connection-manager';
import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import { LogThrottle } from '@app/common';
import { APP_CONFIG, AppConfig } from '@app/config';
import {
  assertDeadLetters,
  brokerNames,
  BrokerMessage,
  isBrokerGroup,
  maskBrokerText,
  maskBrokerUrl,
  parseMessage,
  queueOptions,
} from '@app/broker';
import { RunsRepository } from '@app/persistence';
import type { RunRequest } from '@app/protocol';
import { ActiveRuns } from '../tasks/active-runs';
import { LedgerWatch } from '../tasks/ledger-watch.service';
import { TaskError } from '../tasks/task-errors';
import { TasksService } from '../tasks/tasks.service';
import { afterStart, decideDelivery, RunRow } from './delivery-decision';

const HEARTBEAT_SECONDS = 5;
const RECONNECT_SECONDS = 2;
/** A message this executor can not take now (full, ledger down) goes back to the queue after this pause. */
const REQUEUE_PAUSE_MS = 500;
/** Control messages (cancels, broadcast runs) in flight at once. */
const CONTROL_PREFETCH = 16;

/** A delivery and the channel it came on (an ack must go to that channel; a closed one has redelivered it). */
interface Delivered {
  ch: ConfirmChannel;
  msg: ConsumeMessage;
}

/**
 * An executor of a broker group ([rabbitmq] groups) takes its runs from `{prefix}.runs.{group}` and its control
 * messages (cancels, its broadcast runs) from `{prefix}.exec.{executorId}`, beside its gRPC server (which stays:
 * health, cancel, live output).
 *
 * A delivery is judged against the ledger (decideDelivery): the message is a ledger key and nothing more, the run
 * and its job are read from the ledger, and the run starts only through TasksService.startMany's compare-and-set
 * pending → running under the row's own key, the same fence as a gRPC RunBatch (two executors given one message:
 * one starts it). It is acked once the ledger has decided, never held for the run's duration (the broker's consumer
 * timeout); a delivery after the compare-and-set and before its ack (a crash between) is redelivered, finds the run
 * running and is dropped: lost-run detection ends that run.
 *
 * Prefetch is the free capacity: the runs consumer is (re)subscribed with prefetch = capacity − runs held, cancelled
 * when nothing is free (a per-consumer prefetch can not change while it consumes; quorum queues have no global one),
 * and subscribed again, larger, as runs end.
 */
@Injectable()
export class BrokerConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(BrokerConsumer.name);
  private readonly failures = new LogThrottle((m) => this.logger.warn(m));
  private connection: AmqpConnectionManager | null = null;
  private wrapper: ChannelWrapper | null = null;
  private channel: ConfirmChannel | null = null;
  /** The runs consumer on `channel`, and the prefetch it was subscribed with. */
  private runsConsumer: { tag: string; prefetch: number } | null = null;
  private resubscribing = false;
  private inFlight = 0;
  private batch: Delivered[] = [];
  private flushQueued = false;
  private stopping = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly runs: RunsRepository,
    private readonly tasks: TasksService,
    private readonly active: ActiveRuns,
    private readonly ledger: LedgerWatch,
  ) {}

  get enabled(): boolean {
    return isBrokerGroup(this.config.rabbitmq, this.config.executor.group);
  }

  private get prefix(): string {
    return this.config.rabbitmq.prefix;
  }

  /** Consumes once the schema is there (before, no run could be recorded). */
  onApplicationBootstrap(): void {
    if (!this.enabled) return;
    void this.ledger.schemaReady().then((ready) => ready && !this.stopping && this.connect());
    this.active.onRelease(() => this.adjust());
  }

  /** SIGTERM: nothing more is taken (the broker keeps what is not delivered here); runs held drain as over gRPC. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    await this.wrapper?.close().catch(() => undefined);
    await this.connection?.close().catch(() => undefined);
  }

  private connect(): void {
    const url = this.config.rabbitmq.url;
    const masked = maskBrokerUrl(url);
    const e = this.config.executor;
    this.connection = amqp.connect([url], {
      heartbeatIntervalInSeconds: HEARTBEAT_SECONDS,
      reconnectTimeInSeconds: RECONNECT_SECONDS,
      connectionOptions: { clientProperties: { connection_name: `gocron executor ${e.id}` } },
    });
    this.connection.on('connect', () => this.logger.log(`consuming runs of group ${e.group} from ${masked}`));
    const note = (what: string, err?: Error) =>
      this.failures.warn(what, maskBrokerText(err ? `${what}: ${err.message}` : what, url));
    this.connection.on('disconnect', ({ err }) => note(`disconnected from the broker at ${masked}`, err));
    this.connection.on('connectFailed', ({ err }) => note(`cannot connect to the broker at ${masked}`, err));
    this.wrapper = this.connection.createChannel({ confirm: true, setup: (ch: ConfirmChannel) => this.setup(ch) });
    this.wrapper.on('error', (err: Error) => note('broker channel error', err));
  }

  /** On every (re)connect: the queues, the control consumer, and the runs consumer sized to the free capacity. */
  private async setup(ch: ConfirmChannel): Promise<void> {
    this.channel = ch;
    this.runsConsumer = null;
    this.inFlight = 0; // deliveries of a closed channel are the broker's again
    await assertDeadLetters(ch, this.prefix);
    const runsQueue = brokerNames.runs(this.prefix, this.config.executor.group);
    const execQueue = brokerNames.exec(this.prefix, this.config.executor.id);
    await ch.assertQueue(runsQueue, queueOptions(this.prefix, 'runs'));
    await ch.assertQueue(execQueue, queueOptions(this.prefix, 'exec'));
    await ch.prefetch(CONTROL_PREFETCH);
    await ch.consume(execQueue, (msg) => msg && this.deliver(ch, msg), { noAck: false });
    await this.subscribeRuns(ch);
  }

  private free(): number {
    return this.config.executor.capacity - this.active.size - this.inFlight;
  }

  private async subscribeRuns(ch: ConfirmChannel): Promise<void> {
    const free = this.free();
    if (free <= 0 || this.stopping) return;
    await ch.prefetch(free);
    const { consumerTag } = await ch.consume(
      brokerNames.runs(this.prefix, this.config.executor.group),
      (msg) => msg && this.deliver(ch, msg),
      { noAck: false },
    );
    this.runsConsumer = { tag: consumerTag, prefetch: free };
  }

  /**
   * Keeps the runs consumer's prefetch at the free capacity: cancelled when nothing is free, subscribed again when
   * something is, and again with a larger prefetch when twice as much is free as it was subscribed with.
   */
  private adjust(): void {
    const ch = this.channel;
    if (!ch || this.resubscribing || this.stopping) return;
    const free = this.free();
    const c = this.runsConsumer;
    const cancel = c !== null && (free <= 0 || free >= 2 * c.prefetch);
    const subscribe = free > 0 && (c === null || cancel);
    if (!cancel && !subscribe) return;
    this.resubscribing = true;
    void (async () => {
      try {
        if (cancel && c) {
          this.runsConsumer = null;
          await ch.cancel(c.tag);
        }
        if (subscribe && this.channel === ch) await this.subscribeRuns(ch);
      } catch (e) {
        this.failures.warn('prefetch', `cannot resize the runs consumer: ${(e as Error).message}`);
      } finally {
        this.resubscribing = false;
      }
      if (this.channel === ch) setImmediate(() => this.adjust());
    })();
  }

  /** Deliveries of one turn of the event loop are judged together: one ledger read, one compare-and-set. */
  private deliver(ch: ConfirmChannel, msg: ConsumeMessage): void {
    this.inFlight++;
    this.batch.push({ ch, msg });
    if (this.flushQueued) return;
    this.flushQueued = true;
    setImmediate(() => {
      this.flushQueued = false;
      const batch = this.batch;
      this.batch = [];
      void this.handle(batch).finally(() => this.adjust());
      this.adjust();
    });
  }

  /**
   * Copies of one run message in the batch (a republish beside a redelivery) are judged once: the first copy is, and
   * the others are acked once it is decided (the first one's fate is the run's: started, dropped, or back in the
   * queue, where one copy is enough).
   */
  private async handle(all: Delivered[]): Promise<void> {
    const batch: Delivered[] = [];
    const copies: Delivered[] = [];
    const seen = new Set<string>();
    for (const d of all) {
      const m = parseMessage(d.msg.content);
      const key = 'problem' in m || m.kind !== 'run' ? null : `${m.runId}/${m.jobId}/${m.tickKey}/${m.attempt}`;
      if (key !== null && seen.has(key)) copies.push(d);
      else {
        if (key !== null) seen.add(key);
        batch.push(d);
      }
    }
    try {
      await this.judge(batch);
    } finally {
      for (const d of copies) this.settle(d, 'ack');
    }
  }

  private async judge(batch: Delivered[]): Promise<void> {
    const parsed = batch.map((d) => ({ d, m: parseMessage(d.msg.content) }));
    const runIds = [...new Set(parsed.flatMap(({ m }) => ('problem' in m ? [] : [m.runId])))];
    let rows: Map<number, RunRow>;
    try {
      rows = new Map((await this.runs.findByIds(runIds)).map((r) => [r.id, r]));
    } catch (e) {
      this.failures.warn('read', `cannot read ${runIds.length} run(s) from the ledger: ${(e as Error).message}`);
      for (const { d } of parsed) this.requeueLater(d);
      return;
    }
    const now = Date.now();
    const starting: { d: Delivered; req: RunRequest }[] = [];
    for (const { d, m } of parsed) {
      if (!('problem' in m) && m.kind === 'cancel') {
        this.cancel(m);
        this.settle(d, 'ack');
        continue;
      }
      const decision = decideDelivery(
        m,
        rows.get('problem' in m ? 0 : m.runId),
        { address: this.config.executor.advertise },
        now,
      );
      switch (decision.kind) {
        case 'dead':
          this.logger.warn(`message rejected to ${brokerNames.dead(this.prefix)}: ${decision.why}`);
          this.settle(d, 'dead');
          break;
        case 'drop':
          this.logger.debug?.(`message dropped: ${decision.why}`);
          this.settle(d, 'ack');
          break;
        case 'expire':
          await this.failPending((m as { runId: number }).runId, decision.error, d);
          break;
        case 'start': {
          const k = decision.key;
          starting.push({
            d,
            req: {
              runId: k.id,
              jobId: k.jobId,
              jobVersion: 0,
              scheduledAt: new Date(k.scheduledAt).toISOString(),
              attempt: k.attempt,
              timeoutMs: 0,
              dispatcherId: '',
              retry: null,
              tickKey: k.tickKey,
              executorKey: k.executorKey,
            },
          });
          break;
        }
      }
    }
    if (starting.length === 0) return;
    const outcomes = await this.tasks.startMany(starting.map((s) => s.req));
    for (const [i, { d, req }] of starting.entries()) {
      const outcome = outcomes[i];
      switch (afterStart(outcome)) {
        case 'ack':
          this.settle(d, 'ack');
          break;
        case 'fail':
          await this.failPending(req.runId, `executor refused the run: ${outcome.message}`, d);
          break;
        case 'requeue':
          this.requeueLater(d);
          break;
      }
    }
  }

  /** Compare-and-set pending → failed, then ack; the ledger down: back to the queue, decided again later. */
  private async failPending(runId: number, error: string, d: Delivered): Promise<void> {
    try {
      if (await this.runs.finish(runId, { status: 'failed', finishedAt: Date.now(), error }, ['pending'])) {
        this.logger.warn({ msg: `run failed: ${error}`, runId, executorId: this.config.executor.id });
      }
      this.settle(d, 'ack');
    } catch (e) {
      this.failures.warn('fail', `cannot fail run ${runId}: ${(e as Error).message}`);
      this.requeueLater(d);
    }
  }

  private cancel(m: Extract<BrokerMessage, { kind: 'cancel' }>): void {
    try {
      this.tasks.cancel(m.runId, m.reason || 'cancelled');
    } catch (e) {
      if (!(e instanceof TaskError && e.code === 'NOT_FOUND')) throw e;
      // Not here (ended, or never started here): nothing to stop.
    }
  }

  private requeueLater(d: Delivered): void {
    setTimeout(() => this.settle(d, 'requeue'), REQUEUE_PAUSE_MS).unref();
  }

  /** Acks or rejects on the channel the message came on; a channel closed since has handed it back already. */
  private settle({ ch, msg }: Delivered, how: 'ack' | 'dead' | 'requeue'): void {
    if (ch === this.channel) this.inFlight = Math.max(0, this.inFlight - 1);
    try {
      if (how === 'ack') ch.ack(msg);
      else ch.nack(msg, false, how === 'requeue');
    } catch {
      // channel closed: the broker redelivers it, and the ledger decides again
    }
  }
}
