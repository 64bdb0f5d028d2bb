import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import amqp, { AmqpConnectionManager, ChannelWrapper } from 'amqp-connection-manager';
import type { ConfirmChannel, ConsumeMessage, Channel } from 'amqplib';
import { LogThrottle } from '@app/common';
import { APP_CONFIG, AppConfig } from '@app/config';
import {
  assertDeadLetters,
  brokerNames,
  BrokerMessage,
  encodeMessage,
  isBrokerGroup,
  maskBrokerText,
  maskBrokerUrl,
  queueOptions,
} from '@app/broker';
import { PUBLISH_TIMEOUT_MS } from './republish-rule';

const HEARTBEAT_SECONDS = 5;
const RECONNECT_SECONDS = 2;
/** GET /api/broker's queue figures are read from the broker at most this often. */
const STATS_CACHE_MS = 1000;
/** AMQP reply code of a mandatory message no queue took. */
const NO_ROUTE = 312;
/** A consumer channel whose setup failed is tried again on a new channel after this pause. */
const CONSUMER_RETRY_MS = 5000;

/** One message to publish: what, to which queue (runs of a group, or an executor's control queue). */
export interface Publication {
  message: BrokerMessage;
  queue: { kind: 'runs'; group: string } | { kind: 'exec'; executorId: string };
  /** Per-message TTL: the message dead-letters as `expired` if still queued this long from now. */
  ttlMs?: number;
}

/** A queue as GET /api/broker shows it. */
export interface QueueStats {
  name: string;
  ready: number | null;
  consumers: number | null;
  error?: string;
}

/**
 * The dispatcher's link to RabbitMQ ([rabbitmq] url): one connection (amqp-connection-manager: reconnects, channels
 * re-created and their setup run again), a confirm channel for publishing. A publish counts only once the broker has
 * confirmed it (a quorum queue confirms once the message is on disk) and it was routed to a queue (`mandatory`: a
 * message the broker could not route comes back before its confirm, and is not counted). While disconnected nothing
 * is published at all: the runs stay pending in the ledger, and the pending pass publishes them once the broker is
 * back (the wrapper's in-memory buffer is not used, a dispatcher that stops would lose it).
 */
@Injectable()
export class BrokerPublisher implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(BrokerPublisher.name);
  private readonly failures = new LogThrottle((m) => this.logger.warn(m));
  private connection: AmqpConnectionManager | null = null;
  private channel: ChannelWrapper | null = null;
  /** Queues declared on the current channel (declared again after a reconnect: the broker may have lost them). */
  private declared = new Set<string>();
  /** Message ids the broker returned as unroutable; their confirm does not count. */
  private readonly returned = new Set<string>();
  private seq = 0;
  private statsCache: { key: string; at: number; result: Promise<QueueStats[]> } | null = null;
  private lastError: string | null = null;
  private connectedSince: number | null = null;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  get enabled(): boolean {
    return this.config.rabbitmq.url !== '';
  }

  /** [rabbitmq] groups (`*`: every group). */
  get groups(): string[] {
    return [...this.config.rabbitmq.groups];
  }

  get prefix(): string {
    return this.config.rabbitmq.prefix;
  }

  /** The URL as it may be shown (the password masked). */
  get maskedUrl(): string {
    return maskBrokerUrl(this.config.rabbitmq.url);
  }

  get connected(): boolean {
    return this.connection?.isConnected() ?? false;
  }

  /** What health and GET /api/broker say of the link. */
  state(): { enabled: boolean; connected: boolean; url: string; since: number | null; lastError: string | null } {
    return {
      enabled: this.enabled,
      connected: this.connected,
      url: this.enabled ? this.maskedUrl : '',
      since: this.connectedSince,
      lastError: this.lastError,
    };
  }

  isBrokerGroup(group: string): boolean {
    return isBrokerGroup(this.config.rabbitmq, group);
  }

  onApplicationBootstrap(): void {
    if (!this.enabled) return;
    const url = this.config.rabbitmq.url;
    this.connection = amqp.connect([url], {
      heartbeatIntervalInSeconds: HEARTBEAT_SECONDS,
      reconnectTimeInSeconds: RECONNECT_SECONDS,
      connectionOptions: { clientProperties: { connection_name: `gocron dispatcher ${this.config.dispatcher.id}` } },
    });
    this.connection.on('connect', () => {
      this.connectedSince = Date.now();
      this.lastError = null;
      this.logger.log(`connected to the broker at ${this.maskedUrl}`);
    });
    this.connection.on('disconnect', ({ err }) => {
      this.connectedSince = null;
      this.note(`disconnected from the broker at ${this.maskedUrl}`, err);
    });
    this.connection.on('connectFailed', ({ err }) =>
      this.note(`cannot connect to the broker at ${this.maskedUrl}`, err),
    );
    this.channel = this.connection.createChannel({
      confirm: true,
      publishTimeout: PUBLISH_TIMEOUT_MS,
      setup: async (ch: ConfirmChannel) => {
        this.declared = new Set();
        ch.on('return', (msg: ConsumeMessage) => this.onReturn(msg));
        await assertDeadLetters(ch, this.prefix);
      },
    });
    this.channel.on('error', (err: Error) => this.note('broker channel error', err));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.connection?.close().catch(() => undefined);
  }

  /**
   * A message the broker could not route: its confirm does not count. NO_ROUTE (312) to the default exchange means
   * its queue is gone (deleted): it is declared again on the next publish.
   */
  onReturn(msg: Pick<ConsumeMessage, 'fields' | 'properties'>): void {
    if (typeof msg.properties.messageId === 'string') this.returned.add(msg.properties.messageId);
    const fields = msg.fields as { replyCode?: number; routingKey?: string };
    if (fields.replyCode === NO_ROUTE && typeof fields.routingKey === 'string') this.declared.delete(fields.routingKey);
  }

  /** Masked, and at most once a minute per kind (the broker being down is reported by health, not a line a pass). */
  private note(what: string, err?: Error): void {
    const text = maskBrokerText(err ? `${what}: ${err.message}` : what, this.config.rabbitmq.url);
    this.lastError = text;
    this.failures.warn(what, text);
  }

  /** Publishes each message; answers, for each, whether the broker confirmed it into its queue. */
  async publish(items: Publication[]): Promise<boolean[]> {
    const channel = this.channel;
    if (!channel || !this.connected || items.length === 0) return items.map(() => false);
    // A queue that can not be declared (a name too long, other arguments) fails only its own messages.
    const undeclared = await this.declare([...new Set(items.map((i) => this.queueName(i.queue)))]);
    return Promise.all(
      items.map(async (item) => {
        if (undeclared.has(this.queueName(item.queue))) return false;
        const messageId = `${item.message.runId}.${process.pid}.${++this.seq}`;
        try {
          await channel.publish('', this.queueName(item.queue), encodeMessage(item.message), {
            persistent: true,
            mandatory: true,
            contentType: 'application/json',
            messageId,
            ...(item.ttlMs !== undefined ? { expiration: String(Math.max(0, Math.ceil(item.ttlMs))) } : {}),
          });
          return !this.returned.delete(messageId);
        } catch (e) {
          this.returned.delete(messageId); // returned, then nacked or timed out: forgotten either way
          this.note('publish not confirmed', e as Error);
          return false;
        }
      }),
    );
  }

  queueName(q: Publication['queue']): string {
    return q.kind === 'runs' ? brokerNames.runs(this.prefix, q.group) : brokerNames.exec(this.prefix, q.executorId);
  }

  /**
   * Declares the queues not declared since the channel was (re)created, on a channel of their own (the confirm
   * channel's wrapper runs setups again on every reconnect; these are declared again on first use instead). Answers
   * the queues it could not declare: the broker closes the channel a declare failed on, so the next queue gets a new
   * one, and one bad queue does not fail the others.
   */
  private async declare(queues: string[]): Promise<Set<string>> {
    const missing = queues.filter((q) => !this.declared.has(q));
    const failed = new Set<string>();
    const conn = this.connection?.connection;
    if (missing.length === 0) return failed;
    if (!conn) return new Set(missing);
    let ch: Channel | null = null;
    try {
      for (const q of missing) {
        try {
          if (!ch) {
            ch = await conn.createChannel();
            ch.on('error', () => undefined);
          }
          const kind = q.startsWith(brokerNames.exec(this.prefix, '')) ? 'exec' : 'runs';
          await ch.assertQueue(q, queueOptions(this.prefix, kind));
          this.declared.add(q);
        } catch (e) {
          failed.add(q);
          ch = null; // closed by the broker
          this.note(`cannot declare the queue ${q.slice(0, 100)}`, e as Error);
        }
      }
    } finally {
      await ch?.close().catch(() => undefined);
    }
    return failed;
  }

  /**
   * Ready messages and consumers of each queue (passive declares, on a channel of their own: a queue that does not
   * exist closes the channel it was asked on). AMQP does not tell unacknowledged messages; executors ack a run once
   * its start is recorded, so few are ever unacked.
   */
  queueStats(names: string[]): Promise<QueueStats[]> {
    // Each call costs the broker a channel and a passive declare per queue: a viewer polling GET /api/broker (or
    // many of them, within the API's rate limit) shares one answer a second, and one question in flight.
    const key = names.join('\n');
    const now = Date.now();
    if (this.statsCache && this.statsCache.key === key && now - this.statsCache.at < STATS_CACHE_MS) {
      return this.statsCache.result;
    }
    const result = this.readQueueStats(names);
    this.statsCache = { key, at: now, result };
    return result;
  }

  private async readQueueStats(names: string[]): Promise<QueueStats[]> {
    const conn = this.connection?.connection;
    if (!conn || !this.connected) {
      return names.map((name) => ({ name, ready: null, consumers: null, error: 'not connected' }));
    }
    const out: QueueStats[] = [];
    let ch: Channel | null = null;
    for (const name of names) {
      try {
        if (!ch) {
          ch = await conn.createChannel();
          ch.on('error', () => undefined);
        }
        const q = await ch.checkQueue(name);
        out.push({ name, ready: q.messageCount, consumers: q.consumerCount });
      } catch (e) {
        ch = null; // the broker closed it
        const error = maskBrokerText((e as Error).message, this.config.rabbitmq.url).slice(0, 200);
        out.push({ name, ready: null, consumers: null, error });
      }
    }
    await ch?.close().catch(() => undefined);
    return out;
  }

  /**
   * A channel of its own for a consumer (the dead-letter pass), re-created with the connection. Its errors are noted
   * here (masked), never thrown: a ChannelWrapper emits `error` when a setup rejects, and an `error` event nobody
   * listens to ends the process. A setup the broker refused (PRECONDITION_FAILED, ACCESS_REFUSED: the broker closes
   * the channel, and the wrapper waits for the next reconnect) is tried again on a new channel after a pause.
   */
  consumerChannel(
    setup: (ch: ConfirmChannel) => Promise<void>,
    what = 'consumer channel',
    retryMs = CONSUMER_RETRY_MS,
  ): ConsumerChannel | null {
    const connection = this.connection;
    if (!connection) return null;
    let wrapper: ChannelWrapper | null = null;
    let closed = false;
    let retry: NodeJS.Timeout | null = null;
    const reopenLater = (w: ChannelWrapper) => {
      if (closed || retry) return;
      retry = setTimeout(() => {
        retry = null;
        if (closed || wrapper !== w) return;
        void w.close().catch(() => undefined);
        open();
      }, retryMs);
      retry.unref();
    };
    const open = () => {
      const w = connection.createChannel({ confirm: false, setup });
      wrapper = w;
      w.on('error', (err: Error) => {
        this.note(what, err);
        reopenLater(w);
      });
    };
    open();
    return {
      reopen: () => wrapper && reopenLater(wrapper),
      close: async () => {
        closed = true;
        if (retry) clearTimeout(retry);
        await wrapper?.close().catch(() => undefined);
      },
    };
  }
}

/** A consumer's channel, re-created with the connection and after a setup the broker refused. */
export interface ConsumerChannel {
  /** Sets the consumer up again on a new channel, after a pause (its setup failed outside the wrapper's watch). */
  reopen(): void;
  close(): Promise<void>;
}
