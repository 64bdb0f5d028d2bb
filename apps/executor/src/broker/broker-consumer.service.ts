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
import { Presence } from '../tasks/presence.service';
import { TaskError } from '../tasks/task-errors';
import { TasksService } from '../tasks/tasks.service';
import { afterStart, decideDelivery, RunRow } from './delivery-decision';

const HEARTBEAT_SECONDS = 5;
const RECONNECT_SECONDS = 2;
/** Control messages (cancels, broadcast runs) in flight at once, at most. */
const CONTROL_PREFETCH = 16;
/** The ledger down: probed again after this long, doubling up to LEDGER_PROBE_MAX_MS, consuming nothing meanwhile. */
const LEDGER_PROBE_MS = 1000;
const LEDGER_PROBE_MAX_MS = 30_000;
/** A delivery of a run whose start here is between its reservation and its compare-and-set waits this long. */
const HELD_MS = 1000;
/** The control queue is declared again this often, so that its `x-expires` (30 min unused) never takes it from us. */
const CONTROL_TOUCH_MS = 5 * 60_000;
/** A channel whose setup or consumer change failed is tried again after this pause. */
const RETRY_MS = 2000;

/** A delivery and the channel it came on (an ack must go to that channel; a closed one has redelivered it). */
interface Delivered {
  ch: ConfirmChannel;
  msg: ConsumeMessage;
  /** The consumer it came to: cancels are honored only from this executor's own control queue. */
  from: ConsumerKind;
}

type ConsumerKind = 'runs' | 'control';

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
 * Consumers exist only while this executor can take work: listed in discovery with a live lease (a run started here
 * while dispatchers do not list this executor would be declared lost), not draining, the ledger reachable, and a slot
 * free. Otherwise they are cancelled and the few deliveries in flight go back to the queue once (nack with requeue),
 * for other executors: a message is never bounced between the queue and an executor that can not take it (each
 * requeue counts towards a quorum queue's delivery limit, 20 by default on RabbitMQ 4). Prefetch is the free
 * capacity: a consumer is (re)subscribed with prefetch = capacity − runs held, cancelled when nothing is free (a
 * per-consumer prefetch can not change while it consumes; quorum queues have no global one), and subscribed again,
 * larger, as runs end. Every subscribe and cancel goes through one serialized loop (reconcile), so the channel's
 * setup and a run ending meanwhile can not create two consumers.
 */
@Injectable()
export class BrokerConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(BrokerConsumer.name);
  private readonly failures = new LogThrottle((m) => this.logger.warn(m));
  private connection: AmqpConnectionManager | null = null;
  private wrapper: ChannelWrapper | null = null;
  private channel: ConfirmChannel | null = null;
  /** Whether setup has declared the queues on `channel` (before that, nothing subscribes). */
  private channelReady = false;
  /** The consumers on `channel`, and the prefetch each was subscribed with. */
  private consumers: Record<ConsumerKind, { tag: string; prefetch: number } | null> = { runs: null, control: null };
  /** Queues the broker cancelled a consumer of (deleted): declared again before the next subscribe. */
  private readonly reassert = new Set<ConsumerKind>();
  private reconciling: Promise<void> | null = null;
  private dirty = false;
  private retryTimer: NodeJS.Timeout | null = null;
  /** The ledger could not be read or written: nothing is consumed until a probe reads it again. */
  private ledgerDown = false;
  private probeMs = LEDGER_PROBE_MS;
  private probeTimer: NodeJS.Timeout | null = null;
  private inFlight = 0;
  private batch: Delivered[] = [];
  private flushQueued = false;
  private readonly settled = new WeakSet<ConsumeMessage>();
  private stopping = false;
  private touchTimer: NodeJS.Timeout | null = null;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly runs: RunsRepository,
    private readonly tasks: TasksService,
    private readonly active: ActiveRuns,
    private readonly ledger: LedgerWatch,
    private readonly presence: Presence,
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
    this.presence.onDiscoveryChange(() => this.adjust());
  }

  /** SIGTERM: nothing more is taken (the broker keeps what is not delivered here); runs held drain as over gRPC. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.probeTimer) clearTimeout(this.probeTimer);
    if (this.touchTimer) clearInterval(this.touchTimer);
    await this.wrapper?.close().catch(() => undefined);
    await this.connection?.close().catch(() => undefined);
  }

  private note(what: string, err?: Error): void {
    const url = this.config.rabbitmq.url;
    this.failures.warn(what, maskBrokerText(err ? `${what}: ${err.message}` : what, url));
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
    this.connection.on('disconnect', ({ err }) => this.note(`disconnected from the broker at ${masked}`, err));
    this.connection.on('connectFailed', ({ err }) => this.note(`cannot connect to the broker at ${masked}`, err));
    this.openChannel();
    // A control queue with no consumer (full, or not listed) is "unused": declared again before x-expires drops it.
    this.touchTimer = setInterval(() => {
      const ch = this.channel;
      if (!ch || !this.channelReady) return;
      ch.assertQueue(this.queueOf('control'), queueOptions(this.prefix, 'exec')).catch((e: Error) =>
        this.note(`cannot declare ${this.queueOf('control')}`, e),
      );
    }, CONTROL_TOUCH_MS);
    this.touchTimer.unref();
  }

  /**
   * The channel, re-created by the connection manager on reconnect. A setup the broker refused (it closes the
   * channel, and the wrapper would wait for the next reconnect) is tried again on a new channel after a pause.
   */
  private openChannel(): void {
    const connection = this.connection;
    if (!connection || this.stopping) return;
    const w = connection.createChannel({ confirm: true, setup: (ch: ConfirmChannel) => this.setup(ch) });
    this.wrapper = w;
    let retrying = false;
    w.on('error', (err: Error) => {
      this.note('broker channel error', err);
      if (retrying) return;
      retrying = true;
      setTimeout(() => {
        retrying = false;
        // Set up meanwhile (the connection manager reconnected): nothing to do.
        if (this.stopping || this.wrapper !== w || this.channelReady) return;
        void w.close().catch(() => undefined);
        this.openChannel();
      }, RETRY_MS).unref();
    });
  }

  /** On every (re)connect: the queues; then the consumers, sized to the free capacity, if work can be taken. */
  private async setup(ch: ConfirmChannel): Promise<void> {
    this.channel = ch;
    this.channelReady = false;
    this.consumers = { runs: null, control: null };
    this.reassert.clear();
    this.inFlight = 0; // deliveries of a closed channel are the broker's again
    await assertDeadLetters(ch, this.prefix);
    await ch.assertQueue(this.queueOf('runs'), queueOptions(this.prefix, 'runs'));
    await ch.assertQueue(this.queueOf('control'), queueOptions(this.prefix, 'exec'));
    if (this.channel !== ch) return;
    this.channelReady = true;
    await this.reconcile();
  }

  private queueOf(kind: ConsumerKind): string {
    const e = this.config.executor;
    return kind === 'runs' ? brokerNames.runs(this.prefix, e.group) : brokerNames.exec(this.prefix, e.id);
  }

  private free(): number {
    return this.config.executor.capacity - this.active.size - this.inFlight;
  }

  /** Whether this executor can take work now (free slots aside). */
  private canTake(): boolean {
    return !this.stopping && !this.ledgerDown && this.presence.inDiscovery && this.ledger.notReadyReason() === null;
  }

  /** Brings the consumers to what the state asks for, on the serialized loop. */
  private adjust(): void {
    void this.reconcile();
  }

  /** One loop at a time: a change asked for while it runs makes it go round once more. Never rejects. */
  private reconcile(): Promise<void> {
    this.dirty = true;
    this.reconciling ??= (async () => {
      try {
        while (this.dirty) {
          this.dirty = false;
          await this.step();
        }
      } finally {
        this.reconciling = null;
      }
    })();
    return this.reconciling;
  }

  /**
   * Each consumer: cancelled when work can not be taken or nothing is free (or to subscribe again larger: twice as
   * much free as its prefetch), subscribed when work can be taken and something is free.
   */
  private async step(): Promise<void> {
    const ch = this.channel;
    if (!ch || !this.channelReady) return;
    try {
      for (const kind of ['runs', 'control'] as const) {
        if (this.channel !== ch) return;
        const free = this.free();
        const want = this.canTake() && free > 0;
        const cap = kind === 'runs' ? free : Math.min(CONTROL_PREFETCH, free);
        const c = this.consumers[kind];
        if (c && (!want || cap >= 2 * c.prefetch)) {
          this.consumers[kind] = null;
          await ch.cancel(c.tag);
        }
        if (!want || this.consumers[kind] || this.channel !== ch) continue;
        await this.subscribe(ch, kind, cap);
      }
    } catch (e) {
      this.note(`cannot change the consumers of ${this.queueOf('runs')}`, e as Error);
      this.retryLater();
    }
  }

  private async subscribe(ch: ConfirmChannel, kind: ConsumerKind, prefetch: number): Promise<void> {
    const queue = this.queueOf(kind);
    // The control queue may have expired while nobody consumed it: declared again first (one RPC per subscribe).
    if (this.reassert.has(kind) || kind === 'control') {
      await ch.assertQueue(queue, queueOptions(this.prefix, kind === 'runs' ? 'runs' : 'exec'));
      this.reassert.delete(kind);
    }
    await ch.prefetch(prefetch);
    let tag = '';
    ({ consumerTag: tag } = await ch.consume(
      queue,
      (msg) => (msg ? this.deliver(ch, msg, kind) : this.cancelledByServer(ch, kind, tag)),
      { noAck: false },
    ));
    if (this.channel === ch) this.consumers[kind] = { tag, prefetch };
  }

  /** The broker cancelled a consumer (its queue was deleted): declare the queue again and subscribe again. */
  private cancelledByServer(ch: ConfirmChannel, kind: ConsumerKind, tag: string): void {
    if (this.channel !== ch || this.consumers[kind]?.tag !== tag) return;
    this.logger.warn(`the broker cancelled the consumer of ${this.queueOf(kind)}; declaring it again`);
    this.consumers[kind] = null;
    this.reassert.add(kind);
    this.adjust();
  }

  private retryLater(): void {
    if (this.retryTimer || this.stopping) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.adjust();
    }, RETRY_MS);
    this.retryTimer.unref();
  }

  /** The ledger failed: consume nothing until a read of it works again (probed with back-off). */
  private ledgerFailed(): void {
    if (this.ledgerDown) return;
    this.ledgerDown = true;
    this.probeMs = LEDGER_PROBE_MS;
    this.probeLater();
  }

  private probeLater(): void {
    if (this.stopping) return;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = null;
      void this.runs.findStatuses([0]).then(
        () => {
          this.ledgerDown = false;
          this.adjust();
        },
        () => {
          this.probeMs = Math.min(2 * this.probeMs, LEDGER_PROBE_MAX_MS);
          this.probeLater();
        },
      );
    }, this.probeMs);
    this.probeTimer.unref();
  }

  /** Deliveries of one turn of the event loop are judged together: one ledger read, one compare-and-set. */
  private deliver(ch: ConfirmChannel, msg: ConsumeMessage, from: ConsumerKind): void {
    this.inFlight++;
    this.batch.push({ ch, msg, from });
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
   * queue, where one copy is enough). Whatever fails, every delivery is settled: one left unsettled goes back to the
   * queue (never an unhandled rejection, never a slot of the prefetch held for good).
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
    const back: Delivered[] = [];
    const held: Delivered[] = [];
    try {
      await this.judge(batch, back, held);
    } catch (e) {
      this.failures.warn('handle', `cannot judge ${batch.length} delivery(ies): ${(e as Error).message}`);
    }
    for (const d of batch) if (!this.settled.has(d.msg) && !back.includes(d) && !held.includes(d)) back.push(d);
    for (const d of held) setTimeout(() => this.settle(d, 'requeue'), HELD_MS).unref();
    try {
      // Not taken now: the consumers go first (so the broker hands these to another executor, not back here), then
      // these go back to the queue, once.
      if (back.length > 0) await this.reconcile();
    } finally {
      for (const d of back) this.settle(d, 'requeue');
      for (const d of copies) this.settle(d, 'ack');
    }
  }

  private async judge(batch: Delivered[], back: Delivered[], held: Delivered[]): Promise<void> {
    const parsed = batch.map((d) => ({ d, m: parseMessage(d.msg.content) }));
    const runIds = [...new Set(parsed.flatMap(({ m }) => ('problem' in m ? [] : [m.runId])))];
    let rows: Map<number, RunRow>;
    try {
      rows = new Map((await this.runs.findByIds(runIds)).map((r) => [r.id, r]));
    } catch (e) {
      this.failures.warn('read', `cannot read ${runIds.length} run(s) from the ledger: ${(e as Error).message}`);
      this.ledgerFailed();
      back.push(...batch);
      return;
    }
    const now = Date.now();
    const starting: { d: Delivered; req: RunRequest }[] = [];
    for (const { d, m } of parsed) {
      try {
        if (!('problem' in m) && m.kind === 'cancel' && d.from === 'control') {
          this.cancel(m);
          this.settle(d, 'ack');
          continue;
        }
        const decision = decideDelivery(
          m,
          rows.get('problem' in m ? 0 : m.runId),
          { address: this.config.executor.advertise, from: d.from },
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
            await this.failPending((m as { runId: number }).runId, decision.error, d, back);
            break;
          case 'start': {
            const k = decision.key;
            if (this.active.has(k.id)) {
              // Pending in the ledger, yet its slot is reserved here: a start of it (a delivery on the channel before
              // a reconnect) is between its reservation and its compare-and-set. startMany would answer "accepted"
              // for it, and an ack would lose the message if that start then fails. Back to the queue once the
              // compare-and-set has decided: the run is then running (dropped) or pending with its slot free.
              held.push(d);
              break;
            }
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
      } catch (e) {
        this.failures.warn('judge', `cannot judge a delivery: ${(e as Error).message}`);
        back.push(d);
      }
    }
    if (starting.length === 0) return;
    // Not listed in discovery (lease lost, not registered yet) or draining: started here, it would be declared lost.
    if (!this.canTake()) {
      back.push(...starting.map((s) => s.d));
      return;
    }
    const outcomes = await this.tasks.startMany(starting.map((s) => s.req));
    for (const [i, { d, req }] of starting.entries()) {
      const outcome = outcomes[i];
      switch (afterStart(outcome)) {
        case 'ack':
          this.settle(d, 'ack');
          break;
        case 'fail':
          await this.failPending(req.runId, `executor refused the run: ${outcome.message}`, d, back);
          break;
        case 'requeue':
          if (outcome.code === 'LEDGER_DOWN' || outcome.code === '') this.ledgerFailed();
          back.push(d);
          break;
      }
    }
  }

  /** Compare-and-set pending → failed, then ack; the ledger down: back to the queue (once), decided again later. */
  private async failPending(runId: number, error: string, d: Delivered, back: Delivered[]): Promise<void> {
    try {
      if (await this.runs.finish(runId, { status: 'failed', finishedAt: Date.now(), error }, ['pending'])) {
        this.logger.warn({ msg: `run failed: ${error}`, runId, executorId: this.config.executor.id });
      }
      this.settle(d, 'ack');
    } catch (e) {
      this.failures.warn('fail', `cannot fail run ${runId}: ${(e as Error).message}`);
      this.ledgerFailed();
      back.push(d);
    }
  }

  /** Best effort: a cancel that can not be applied is logged and acked (the ledger's `cancelled` stops the run too). */
  private cancel(m: Extract<BrokerMessage, { kind: 'cancel' }>): void {
    try {
      this.tasks.cancel(m.runId, m.reason || 'cancelled');
    } catch (e) {
      // Not here (ended, or never started here): nothing to stop.
      if (e instanceof TaskError && e.code === 'NOT_FOUND') return;
      this.logger.warn({ msg: `cannot cancel run ${m.runId}: ${(e as Error).message}`, runId: m.runId });
    }
  }

  /** Acks or rejects on the channel the message came on; a channel closed since has handed it back already. */
  private settle({ ch, msg }: Delivered, how: 'ack' | 'dead' | 'requeue'): void {
    if (this.settled.has(msg)) return;
    this.settled.add(msg);
    if (ch === this.channel) this.inFlight = Math.max(0, this.inFlight - 1);
    try {
      if (how === 'ack') ch.ack(msg);
      else ch.nack(msg, false, how === 'requeue');
    } catch {
      // channel closed: the broker redelivers it, and the ledger decides again
    }
  }
}
