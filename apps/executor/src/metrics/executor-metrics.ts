import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Seconds a run took: 10 ms to a day. */
const DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 86_400];

/**
 * The executor's Prometheus metrics: what it ran and how that ended, counted as each result is recorded (this
 * executor's runs only: sum over executors). Served on `[executor] metrics_port` (MetricsServer).
 */
@Injectable()
export class ExecutorMetrics {
  readonly registry = new Registry();

  readonly started = new Counter({
    name: 'gocron_runs_started_total',
    help: 'Runs this executor started.',
    labelNames: ['group'] as const,
    registers: [this.registry],
  });

  readonly finished = new Counter({
    name: 'gocron_runs_finished_total',
    help: 'Runs this executor recorded a final status for, by status.',
    labelNames: ['group', 'status'] as const,
    registers: [this.registry],
  });

  readonly duration = new Histogram({
    name: 'gocron_run_duration_seconds',
    help: "From a run's start on this executor to its result, by final status.",
    labelNames: ['group', 'status'] as const,
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** Gauges read at scrape time: runs in progress and the capacity they count against. */
  watch(group: string, running: () => number, capacity: number): void {
    new Gauge({
      name: 'gocron_executor_running',
      help: 'Runs in progress on this executor (a slot is held until the result is recorded).',
      labelNames: ['group'] as const,
      registers: [this.registry],
      collect() {
        this.set({ group }, running());
      },
    });
    new Gauge({
      name: 'gocron_executor_capacity',
      help: '[executor] capacity: runs this executor takes at once.',
      labelNames: ['group'] as const,
      registers: [this.registry],
      collect() {
        this.set({ group }, capacity);
      },
    });
  }
}
