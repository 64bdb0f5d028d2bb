import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, Optional } from '@nestjs/common';
import { EgressPolicy, Endpoint, endpointOf, etcdEndpoints, LogThrottle, ResolvedEndpoints } from '@app/common';
import { APP_CONFIG, AppConfig } from '@app/config';
import { DependencyLedger, JobsRepository, NotificationsRepository } from '@app/persistence';
import { DispatcherRegistry } from '../cluster/dispatcher-registry.service';
import { ShardOwnership } from '../cluster/shard-ownership.service';
import { Timers } from '../common/timers.service';
import { DispatcherMetrics } from '../metrics/dispatcher-metrics';
import { EmailSender, SlackSender, WebhookSender } from './channel-senders';
import { NotificationDeliverer } from './notification-deliverer';
import { NotificationPlanner, PLANNER_LOOKBACK_MS } from './notification-planner';
import { LeaderPass } from '../common/leader-pass';

const PLAN_NAME = 'gocron-notify-plan';
const PLAN_MS = 2000;
const DELIVER_NAME = 'gocron-notify-deliver';
const DELIVER_MS = 1000;
const GAUGE_MS = 10_000;

/** The database, Redis and RabbitMQ this installation uses, as endpoints (ports by default where not given). */
export function serviceEndpoints(config: AppConfig): Endpoint[] {
  const out: Endpoint[] = [];
  if (config.database.type === 'mysql') {
    out.push({ host: config.database.host, port: config.database.port, what: 'the database ([database] host)' });
  }
  for (const [url, port, what] of [
    [config.redis.url, 6379, 'Redis ([redis] url)'],
    [config.rabbitmq.url, 5672, 'RabbitMQ ([rabbitmq] url)'],
  ] as const) {
    if (!url) continue;
    try {
      const u = new URL(url);
      out.push({ host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(u.port) || port, what });
    } catch {
      // Checked at start; nothing to refuse if it does not parse.
    }
  }
  return out;
}

/**
 * Notifications: the planner (finished runs → outbox rows, every 2 s) and the deliverer (outbox rows → webhook, Slack,
 * email, every second), each on its own timer and never overlapping itself, so neither ever waits in a tick's way.
 *
 * Webhook and Slack URLs pass `[executor] http_allow` / `http_deny`, as HTTP tasks do, and may not reach a
 * dispatcher's API (this one's `[dispatcher] host:port` and every registered dispatcher's), etcd's, or this
 * installation's database, Redis and RabbitMQ.
 */
@Injectable()
export class Notifications implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(Notifications.name);
  private readonly failures = new LogThrottle((m) => this.logger.warn(m));
  readonly planner: NotificationPlanner;
  /** The planner on the leading dispatcher only, from the stored position. */
  private readonly leaderPlanning: LeaderPass;
  readonly deliverer: NotificationDeliverer;
  private readonly email: EmailSender;
  private planning = false;
  private delivering = false;
  private gaugeDueAt = 0;
  private orphansDueAt = 0;

  constructor(
    private readonly outbox: NotificationsRepository,
    jobs: JobsRepository,
    private readonly timers: Timers,
    @Inject(APP_CONFIG) config: AppConfig,
    @Optional() registry?: DispatcherRegistry,
    @Optional() private readonly metrics?: DispatcherMetrics,
    @Optional() private readonly shards?: ShardOwnership,
    @Optional() positions?: DependencyLedger,
  ) {
    const names = new ResolvedEndpoints((host, e) =>
      this.failures.warn(`resolve:${host}`, `dispatcher host '${host}' does not resolve (${e.message})`),
    );
    const own: Endpoint = { host: config.dispatcher.host, port: config.dispatcher.port };
    const etcd = etcdEndpoints(config.etcd.hosts);
    // This installation's own services: nothing a notification is for (an operator's URL must not reach them).
    const services = serviceEndpoints(config);
    const endpoints = () => {
      const list = [own, ...etcd, ...services];
      for (const d of registry?.list() ?? []) {
        const e = endpointOf(d.address);
        if (e) list.push(e);
      }
      return names.expand(list);
    };
    const policy = new EgressPolicy(config.executor.httpAllow, config.executor.httpDeny, endpoints);
    this.email = new EmailSender(config.notify.smtpUrl, config.notify.mailFrom);
    this.planner = new NotificationPlanner(outbox, jobs, config.notify);
    this.leaderPlanning = new LeaderPass(this.planner, positions, 'notifications', PLANNER_LOOKBACK_MS);
    this.deliverer = new NotificationDeliverer(
      outbox,
      {
        webhook: new WebhookSender(policy, config.notify.webhookSecret, config.dispatcher.id),
        slack: new SlackSender(policy),
        email: this.email,
      },
      config.notify.minIntervalSeconds * 1000,
      config.dispatcher.id,
      { delivered: (channel, result) => this.metrics?.notifications.inc({ channel, result }) },
    );
  }

  onApplicationBootstrap(): void {
    this.timers.every(PLAN_NAME, PLAN_MS, () => this.plan());
    this.timers.every(DELIVER_NAME, DELIVER_MS, () => this.deliver());
  }

  onApplicationShutdown(): void {
    this.timers.clearInterval(PLAN_NAME);
    this.timers.clearInterval(DELIVER_NAME);
    this.email.close();
  }

  async plan(now = Date.now()): Promise<void> {
    if (this.planning) return;
    this.planning = true;
    try {
      // It reads the whole ledger's results: one dispatcher's work (the leader's, see ShardOwnership.leads).
      await this.leaderPlanning.run(this.shards?.leads ?? true, now);
    } catch (e) {
      this.failures.warn('plan', `notification planning failed: ${(e as Error).message}`);
    } finally {
      this.planning = false;
    }
  }

  async deliver(now = Date.now()): Promise<void> {
    if (this.delivering) return;
    this.delivering = true;
    try {
      await this.deliverer.pass(now);
      if (this.metrics && now >= this.gaugeDueAt) {
        this.gaugeDueAt = now + GAUGE_MS;
        this.metrics.notificationsPending.set(await this.outbox.countPending());
      }
      if (now >= this.orphansDueAt) {
        this.orphansDueAt = now + GAUGE_MS;
        await this.outbox.settleOrphans(now);
      }
    } catch (e) {
      this.failures.warn('deliver', `notification delivery failed: ${(e as Error).message}`);
    } finally {
      this.delivering = false;
    }
  }
}
