import { Controller, Get, Header, Logger } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { LogThrottle } from '@app/common';
import { ApiReads } from '@app/persistence';
import { ExecutorPool } from '../executor-client/executor-pool.service';
import { Retention } from '../retention/retention.service';
import { MissedTickSweeper } from '../scheduling/missed-tick-sweeper';
import { SchedulerService } from '../scheduling/scheduler.service';
import { Access } from '../auth/access.decorator';

@ApiTags('metrics')
@Controller('metrics')
export class MetricsController {
  private readonly logger = new Logger(MetricsController.name);
  private readonly failures = new LogThrottle((m) => this.logger.warn(m));

  constructor(
    private readonly scheduler: SchedulerService,
    private readonly pool: ExecutorPool,
    private readonly reads: ApiReads,
    private readonly missed: MissedTickSweeper,
    private readonly retention: Retention,
  ) {}

  @Get()
  @Access('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  @ApiOperation({ summary: 'Prometheus text format' })
  @ApiOkResponse({
    description: 'gocron_jobs_scheduled, gocron_executors_up, gocron_executor_running, gocron_runs{status}',
  })
  async metrics(): Promise<string> {
    const lines = [
      '# HELP gocron_jobs_scheduled Enabled jobs this dispatcher schedules.',
      '# TYPE gocron_jobs_scheduled gauge',
      `gocron_jobs_scheduled ${this.scheduler.scheduledCount}`,
      '# HELP gocron_executors_up Executors discovery lists as up.',
      '# TYPE gocron_executors_up gauge',
      `gocron_executors_up ${this.pool.executors().length}`,
      '# HELP gocron_executor_running Runs in progress per executor.',
      '# TYPE gocron_executor_running gauge',
      ...this.pool
        .executors()
        .map((e) => `gocron_executor_running{executor="${e.id}",group="${e.group}"} ${e.running}`),
      '# HELP gocron_missed_ticks_total Ticks this dispatcher recorded as missed (nobody claimed them in time).',
      '# TYPE gocron_missed_ticks_total counter',
      `gocron_missed_ticks_total ${this.missed.missedTotal}`,
      '# HELP gocron_runs_pruned_total Runs this dispatcher deleted by [retention].',
      '# TYPE gocron_runs_pruned_total counter',
      `gocron_runs_pruned_total ${this.retention.prunedTotal}`,
      '# HELP gocron_run_outputs_pruned_total Runs whose output this dispatcher cleared by [retention] keep_output_runs.',
      '# TYPE gocron_run_outputs_pruned_total counter',
      `gocron_run_outputs_pruned_total ${this.retention.outputsClearedTotal}`,
      '# HELP gocron_runs Runs in the ledger by status.',
      '# TYPE gocron_runs gauge',
      ...(await this.runsByStatus()),
    ];
    return lines.join('\n') + '\n';
  }

  /**
   * A full count over the ledger, on the API's pool and within its statement timeout: on a history too long to
   * count in time the gauge is left out rather than failing the scrape.
   */
  private async runsByStatus(): Promise<string[]> {
    try {
      return [...(await this.reads.countByStatus())].map(([status, n]) => `gocron_runs{status="${status}"} ${n}`);
    } catch (e) {
      this.failures.warn('runs', `gocron_runs left out of this scrape: ${(e as Error).message}`);
      return [];
    }
  }
}
