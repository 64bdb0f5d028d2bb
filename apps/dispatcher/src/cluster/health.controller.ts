import { Controller, Get, Inject, Res } from '@nestjs/common';
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
import { ExecutorPool } from '../executor-client/executor-pool.service';
import { SchedulerService } from '../scheduling/scheduler.service';
import { Access } from '../auth/access.decorator';

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
  ) {}

  @Get()
  @Access('public')
  @ApiOperation({
    summary: 'ok, or degraded when a part other than the database is missing; 503 when the database is down',
  })
  @ApiOkResponse({ schema: { example: { status: 'ok', checks: { database: { status: 'ok', detail: 'sqlite' } } } } })
  @ApiServiceUnavailableResponse({ description: 'the database is unreachable' })
  async health(@Res({ passthrough: true }) res: Response): Promise<HealthJson> {
    const checks: Record<string, Check> = {
      database: await this.database(),
      lock: await this.lock.health(),
      discovery: await this.discovery(),
      executors: this.executors(),
      scheduler: { status: 'ok', detail: `${this.scheduler.scheduledCount} job(s) scheduled` },
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

  /** etcd answering and every watch of the dispatcher's prefix caches attached (see etcdDiscoveryHealth). */
  private async discovery(): Promise<Check> {
    if (!this.etcd) return { status: 'ok', detail: 'static targets' };
    return etcdDiscoveryHealth(this.etcd);
  }

  private executors(): Check {
    const n = this.pool.executors().length;
    return n > 0
      ? { status: 'ok', detail: `${n} executor(s) up` }
      : { status: 'degraded', detail: 'no executor is up' };
  }
}
