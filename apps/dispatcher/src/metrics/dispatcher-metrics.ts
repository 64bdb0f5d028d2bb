import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Seconds from a tick's instant to its start: 1 ms to 5 minutes. */
const LAG_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/**
 * The dispatcher's Prometheus metrics (prom-client): counters and histograms the code paths feed as things happen,
 * and gauges read at scrape time (see MetricsController), never a count over the ledger. Its own registry rather
 * than prom-client's global one, so two apps in one process (tests) keep apart.
 */
@Injectable()
export class DispatcherMetrics {
  readonly registry = new Registry();

  readonly startLag = new Histogram({
    name: 'gocron_run_start_lag_seconds',
    help: "From a run's scheduled instant to an executor accepting it (first attempts; retries wait out their back-off).",
    labelNames: ['group'] as const,
    buckets: LAG_BUCKETS,
    registers: [this.registry],
  });

  readonly ticksMissed = new Counter({
    name: 'gocron_ticks_missed_total',
    help: 'Ticks this dispatcher recorded as missed: nobody claimed them within [dispatcher] missed_grace.',
    registers: [this.registry],
  });

  readonly ticksMisfired = new Counter({
    name: 'gocron_ticks_misfired_total',
    help: "Late ticks handled by the job's misfire policy: `run` (run late, once) or `skipped` (dropped, in ranges).",
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly shardHandovers = new Counter({
    name: 'gocron_shard_changes_total',
    help: 'Shards this dispatcher started (gained) or stopped (lost) planning',
    labelNames: ['direction'] as const,
    registers: [this.registry],
  });

  readonly lockContended = new Counter({
    name: 'gocron_tick_lock_contended_total',
    help: 'Ticks whose lock another dispatcher held when this one came to claim them (it claims them, or looks again).',
    registers: [this.registry],
  });

  readonly runsPruned = new Counter({
    name: 'gocron_runs_pruned_total',
    help: 'Runs this dispatcher deleted by [retention].',
    registers: [this.registry],
  });

  readonly outputsPruned = new Counter({
    name: 'gocron_run_outputs_pruned_total',
    help: 'Runs whose output this dispatcher cleared by [retention] keep_output_runs (their record stays).',
    registers: [this.registry],
  });

  readonly waitingForRoom = new Gauge({
    name: 'gocron_pending_runs_waiting',
    help: 'Pending runs the last pending pass offered that no executor had room for (at most one pass: 1,000).',
    registers: [this.registry],
  });

  readonly notifications = new Counter({
    name: 'gocron_notifications_total',
    help:
      'Notification delivery attempts by this dispatcher, by channel and result: `sent`, `retried` (failed, tried ' +
      'again later), `failed` (given up).',
    labelNames: ['channel', 'result'] as const,
    registers: [this.registry],
  });

  readonly notificationsPending = new Gauge({
    name: 'gocron_notifications_pending',
    help: 'Outbox rows waiting for delivery (due, retrying or inside min_interval), counted up to 10,000 every 10 s.',
    registers: [this.registry],
  });

  readonly brokerPublished = new Counter({
    name: 'gocron_broker_published_total',
    help: 'Run messages this dispatcher published to RabbitMQ ([rabbitmq] groups), confirmed or not.',
    labelNames: ['group'] as const,
    registers: [this.registry],
  });

  readonly brokerConfirmed = new Counter({
    name: 'gocron_broker_confirmed_total',
    help: 'Run messages the broker confirmed into their queue (the run is then queued_at in the ledger).',
    labelNames: ['group'] as const,
    registers: [this.registry],
  });

  readonly brokerRepublished = new Counter({
    name: 'gocron_broker_republished_total',
    help: 'Run messages published again: confirmed long ago and still pending (a queue the broker lost).',
    labelNames: ['group'] as const,
    registers: [this.registry],
  });

  readonly brokerDeadLettered = new Counter({
    name: 'gocron_broker_dead_lettered_total',
    help: 'Messages this dispatcher took from the dead-letter queue, by x-death reason and what became of them.',
    labelNames: ['reason', 'outcome'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** A gauge read at scrape time. */
  gauge<L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    read: (set: (labels: Partial<Record<L, string>>, value: number) => void) => void,
  ): void {
    new Gauge<L>({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        read((labels, value) => this.set(labels, value));
      },
    });
  }
}
