import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { brokerNames } from '@app/broker';
import type { BrokerDeadLetterJson, BrokerJson, BrokerQueueJson } from '@app/contract';
import { Access } from '../auth/access.decorator';
import { ExecutorPool } from '../executor-client/executor-pool.service';
import { SchedulerService } from '../scheduling/scheduler.service';
import { BrokerPublisher } from './broker-publisher.service';
import { DeadLetters } from './dead-letters.service';

export class BrokerQueueResponse implements BrokerQueueJson {
  @ApiProperty({ example: 'gocron.runs.default' }) name!: string;
  @ApiProperty({ enum: ['runs', 'exec', 'dead'] }) kind!: 'runs' | 'exec' | 'dead';
  @ApiPropertyOptional({ description: 'runs queues: the executor group' }) group?: string;
  @ApiPropertyOptional({ description: 'exec queues: the executor' }) executorId?: string;
  @ApiProperty({ nullable: true, description: 'messages ready; null when the broker could not be asked' })
  ready!: number | null;
  @ApiProperty({
    nullable: true,
    description: 'messages delivered and not acknowledged; null: AMQP does not tell it (executors ack on start)',
  })
  unacked!: number | null;
  @ApiProperty({ nullable: true }) consumers!: number | null;
  @ApiPropertyOptional() error?: string;
}

export class DeadLetterResponse implements BrokerDeadLetterJson {
  @ApiProperty() at!: string;
  @ApiProperty({ nullable: true }) runId!: number | null;
  @ApiProperty({ nullable: true, description: "the run's job, when the message or the ledger names it" })
  jobId!: number | null;
  @ApiProperty({ example: 'expired' }) reason!: string;
  @ApiProperty() queue!: string;
  @ApiProperty({ example: 'failed the run' }) outcome!: string;
}

export class BrokerDeadLetteredResponse {
  @ApiProperty({ nullable: true, description: 'waiting in {prefix}.dead' }) queued!: number | null;
  @ApiProperty({ description: 'handled by this dispatcher since it started' }) handled!: number;
  @ApiProperty({ type: [DeadLetterResponse] }) recent!: DeadLetterResponse[];
}

export class BrokerResponse implements BrokerJson {
  @ApiProperty() enabled!: boolean;
  @ApiProperty() connected!: boolean;
  @ApiProperty({ example: 'amqp://guest:***@127.0.0.1:5672', description: 'the password is never shown' })
  url!: string;
  @ApiProperty({ example: ['*'] }) groups!: string[];
  @ApiProperty({ example: 'gocron' }) prefix!: string;
  @ApiProperty({ nullable: true }) lastError!: string | null;
  @ApiProperty({ type: [BrokerQueueResponse] }) queues!: BrokerQueueResponse[];
  @ApiProperty({ type: BrokerDeadLetteredResponse }) deadLettered!: BrokerDeadLetteredResponse;
}

/**
 * GET /api/broker: the RabbitMQ link, its queues and the dead letters. Viewer: it reads state as GET /api/executors
 * and /api/health do, and shows no credential (the URL's password is masked).
 */
@ApiTags('cluster')
@Controller('api/broker')
export class BrokerController {
  constructor(
    private readonly publisher: BrokerPublisher,
    private readonly dead: DeadLetters,
    private readonly pool: ExecutorPool,
    private readonly scheduler: SchedulerService,
  ) {}

  @Get()
  @Access('viewer')
  @ApiOperation({ summary: 'The RabbitMQ connection, its queues (ready, unacked, consumers) and dead letters' })
  @ApiOkResponse({ type: BrokerResponse })
  async broker(): Promise<BrokerResponse> {
    const p = this.publisher;
    const state = p.state();
    const { handled, recent } = this.dead.summary();
    const base = {
      enabled: state.enabled,
      connected: state.connected,
      url: state.url,
      groups: state.enabled ? this.groupsConfigured() : [],
      prefix: p.prefix,
      lastError: state.lastError,
    };
    if (!state.enabled) return { ...base, queues: [], deadLettered: { queued: null, handled, recent } };
    const wanted: Omit<BrokerQueueResponse, 'ready' | 'unacked' | 'consumers'>[] = [];
    const groups = new Set<string>([
      ...this.scheduler.jobsPerGroup().keys(),
      ...this.pool.executors().map((e) => e.group),
    ]);
    for (const group of [...groups].sort()) {
      if (p.isBrokerGroup(group)) wanted.push({ name: brokerNames.runs(p.prefix, group), kind: 'runs', group });
    }
    for (const e of this.pool.executors()) {
      if (p.isBrokerGroup(e.group)) {
        wanted.push({ name: brokerNames.exec(p.prefix, e.id), kind: 'exec', executorId: e.id });
      }
    }
    wanted.push({ name: brokerNames.dead(p.prefix), kind: 'dead' });
    const stats = await p.queueStats(wanted.map((w) => w.name));
    const queues = wanted.map((w, i) => ({
      ...w,
      ready: stats[i].ready,
      unacked: null,
      consumers: stats[i].consumers,
      ...(stats[i].error ? { error: stats[i].error } : {}),
    }));
    return { ...base, queues, deadLettered: { queued: queues[queues.length - 1].ready, handled, recent } };
  }

  private groupsConfigured(): string[] {
    return this.publisher.groups;
  }
}
