import { Controller, Get, Inject } from '@nestjs/common';
import { ApiOkResponse, ApiProperty, ApiTags } from '@nestjs/swagger';
import { APP_CONFIG, AppConfig } from '@app/config';
import { ExecutorPool } from '../executor-client/executor-pool.service';

export class ExecutorResponse {
  @ApiProperty() id!: string;
  @ApiProperty({ example: '127.0.0.1:50051' }) address!: string;
  @ApiProperty() group!: string;
  @ApiProperty() capacity!: number;
  @ApiProperty() running!: number;
  @ApiProperty() startedAt!: string;
}

export class DispatcherResponse {
  @ApiProperty() id!: string;
  @ApiProperty({ example: '127.0.0.1:8080' }) address!: string;
  @ApiProperty() startedAt!: string;
}

const STARTED_AT = new Date().toISOString();

@ApiTags('cluster')
@Controller('api')
export class ClusterController {
  constructor(
    private readonly pool: ExecutorPool,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Get('executors')
  @ApiOkResponse({ type: [ExecutorResponse] })
  executors(): ExecutorResponse[] {
    return this.pool.executors().map(({ id, address, group, capacity, running, startedAt }) => ({
      id,
      address,
      group,
      capacity,
      running,
      startedAt,
    }));
  }

  /** With static discovery a dispatcher knows only itself; etcd lists them all. */
  @Get('dispatchers')
  @ApiOkResponse({ type: [DispatcherResponse] })
  dispatchers(): DispatcherResponse[] {
    const d = this.config.dispatcher;
    return [{ id: d.id, address: `${d.host}:${d.port}`, startedAt: STARTED_AT }];
  }
}
