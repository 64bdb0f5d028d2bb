import { Controller, Get, Header } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Access } from '../auth/access.decorator';
import { ExecutorPool } from '../executor-client/executor-pool.service';
import { SchedulerService } from '../scheduling/scheduler.service';
import { DispatcherMetrics } from './dispatcher-metrics';

@ApiTags('metrics')
@Controller('metrics')
export class MetricsController {
  constructor(
    private readonly metrics: DispatcherMetrics,
    scheduler: SchedulerService,
    pool: ExecutorPool,
  ) {
    metrics.gauge('gocron_jobs_scheduled', 'Enabled jobs this dispatcher schedules.', [], (set) =>
      set({}, scheduler.scheduledCount),
    );
    metrics.gauge(
      'gocron_executors_up',
      'Executors discovery lists as up, per group; `available`: not draining.',
      ['group', 'state'] as const,
      (set) => {
        const up = new Map<string, [number, number]>();
        for (const e of pool.executors()) {
          const n = up.get(e.group) ?? [0, 0];
          n[0]++;
          if (!e.draining) n[1]++;
          up.set(e.group, n);
        }
        for (const [group, [all, available]] of up) {
          set({ group, state: 'up' }, all);
          set({ group, state: 'available' }, available);
        }
      },
    );
    metrics.gauge(
      'gocron_runs_running',
      'Runs in progress on the executors of each group, as they last reported (discovery or Health).',
      ['group'] as const,
      (set) => {
        const running = new Map<string, number>();
        for (const e of pool.executors()) running.set(e.group, (running.get(e.group) ?? 0) + e.running);
        for (const [group, n] of running) set({ group }, n);
      },
    );
  }

  @Get()
  @Access('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  @ApiOperation({ summary: 'Prometheus text format (README: Metrics lists each metric and which process exports it)' })
  @ApiOkResponse({ description: 'gocron_* metrics of this dispatcher and Node.js process metrics' })
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
