import { Controller, Get, Inject, Optional, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Response } from 'express';
import { DataSource } from 'typeorm';
import type { Etcd3 } from 'etcd3';
import { withDeadline } from '@app/common';
import type { HealthCheckJson, HealthJson } from '@app/contract';
import { etcdDiscoveryHealth } from '@app/discovery';
import { TICK_LOCK, TickLock } from '@app/locking';
import { ETCD_CLIENT } from './etcd-client.module';
import { ShardOwnership } from './shard-ownership.service';
import { ExecutorPool } from '../executor-client/executor-pool.service';
import { SchedulerService } from '../scheduling/scheduler.service';
import { Access } from '../auth/access.decorator';
import { BrokerPublisher } from '../broker/broker-publisher.service';

type Check = HealthCheckJson;

@ApiTags('health')
@Controller('api/health')
export class HealthController {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    @Inject(TICK_LOCK) private readonly lock: TickLock,
    private readonly pool: ExecutorPool,
    private readonly scheduler: SchedulerService,
    @Inject(ETCD_CLIENT) private readonly etcd: Etcd3 | null,
    private readonly broker: BrokerPublisher,
    @Optional() private readonly shards?: ShardOwnership,
  ) {}

  @Get()
  @Access('public')
  @ApiOperation({
    summary: 'ok, or degraded when a part other than the database is missing; 503 when the database is down',
  })
  @ApiOkResponse({
    schema: {
      example: {
        status: 'degraded',
        checks: {
          database: { status: 'ok', detail: 'sqlite' },
          executors: {
            status: 'degraded',
            detail: "no executor available in group 'batch' (3 enabled job(s))",
            groups: { default: { up: 2, available: 2, jobs: 10 }, batch: { up: 0, available: 0, jobs: 3 } },
          },
        },
      },
    },
  })
  @ApiServiceUnavailableResponse({ description: 'the database is unreachable' })
  async health(@Res({ passthrough: true }) res: Response): Promise<HealthJson> {
    const checks: Record<string, Check> = {
      database: await this.database(),
      lock: await this.lock.health(),
      discovery: await this.discovery(),
      executors: this.executors(),
      scheduler: {
        status: 'ok',
        detail: `${this.scheduler.scheduledCount} job(s) scheduled; ${this.shards?.describe() ?? 'plans every job'}`,
      },
      ...(this.broker.enabled ? { broker: this.brokerCheck() } : {}),
    };
    const down = checks.database.status === 'down';
    const degraded = Object.values(checks).some((c) => c.status !== 'ok');
    if (down) res.status(503);
    return { status: down || degraded ? 'degraded' : 'ok', checks };
  }

  private async database(): Promise<Check> {
    try {
      await withDeadline(this.ds.query('SELECT 1'), 2000, 'no answer');
      return { status: 'ok', detail: this.ds.options.type };
    } catch (e) {
      return { status: 'down', detail: (e as Error).message };
    }
  }

  /**
   * [rabbitmq]: degraded while the broker is unreachable. Nothing is lost meanwhile: runs of broker groups wait
   * pending in the ledger and are published once it is back (or fail at their deadline). Health is public: only the
   * state is told here. The masked URL (user, host, vhost) and the last error are GET /api/broker's (viewer).
   */
  private brokerCheck(): Check {
    if (this.broker.connected) return { status: 'ok', detail: 'connected' };
    return { status: 'degraded', detail: 'not connected: runs of broker groups wait pending (see GET /api/broker)' };
  }

  /** etcd answering and every watch of the dispatcher's prefix caches attached (see etcdDiscoveryHealth). */
  private async discovery(): Promise<Check> {
    if (!this.etcd) return { status: 'ok', detail: 'static targets' };
    return etcdDiscoveryHealth(this.etcd);
  }

  /**
   * Per group: executors up, available (not draining) and the enabled jobs that use it (those this dispatcher
   * plans: with several dispatchers, each reports on its own shards' jobs). Degraded when no executor
   * is up at all, or when a group that enabled jobs use has none available: their runs wait (and fail at their
   * deadline).
   */
  private executors(): Check {
    const groups: NonNullable<Check['groups']> = {};
    const entry = (g: string) => (groups[g] ??= { up: 0, available: 0, jobs: 0 });
    const executors = this.pool.executors();
    for (const e of executors) {
      entry(e.group).up++;
      if (!e.draining) entry(e.group).available++;
    }
    for (const [group, jobs] of this.scheduler.jobsPerGroup()) entry(group).jobs = jobs;
    const starved = Object.entries(groups).filter(([, g]) => g.jobs > 0 && g.available === 0);
    if (starved.length > 0) {
      const names = starved.map(([name, g]) => `'${name}' (${g.jobs} enabled job(s))`).join(', ');
      return { status: 'degraded', detail: `no executor available in group ${names}`, groups };
    }
    if (executors.length === 0) return { status: 'degraded', detail: 'no executor is up', groups };
    return { status: 'ok', detail: `${executors.length} executor(s) up`, groups };
  }
}
