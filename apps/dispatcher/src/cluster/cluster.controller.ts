import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiProperty, ApiTags } from '@nestjs/swagger';
import type { DispatcherStatusJson, ExecutorJson } from '@app/contract';
import { DispatcherRegistry } from './dispatcher-registry.service';
import { ShardOwnership } from './shard-ownership.service';
import { ExecutorPool } from '../executor-client/executor-pool.service';
import { Access } from '../auth/access.decorator';

export class ExecutorResponse implements ExecutorJson {
  @ApiProperty() id!: string;
  @ApiProperty({ example: '127.0.0.1:50051' }) address!: string;
  @ApiProperty() group!: string;
  @ApiProperty() capacity!: number;
  @ApiProperty() running!: number;
  @ApiProperty() startedAt!: string;
}

export class DispatcherResponse implements DispatcherStatusJson {
  @ApiProperty() id!: string;
  @ApiProperty({ example: '127.0.0.1:8080' }) address!: string;
  @ApiProperty() startedAt!: string;
  @ApiProperty({
    type: [Number],
    description: 'the shards (0-255, n = crc32(jobId) mod 256) it holds in etcd; all of them without etcd',
  })
  shards!: number[];
}

@ApiTags('cluster')
@Controller('api')
export class ClusterController {
  constructor(
    private readonly pool: ExecutorPool,
    private readonly dispatcherRegistry: DispatcherRegistry,
    private readonly shards: ShardOwnership,
  ) {}

  @Get('executors')
  @Access('viewer')
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

  /** With static discovery a dispatcher knows only itself; etcd lists them all, with the shards each holds. */
  @Get('dispatchers')
  @Access('viewer')
  @ApiOkResponse({ type: [DispatcherResponse] })
  dispatchers(): DispatcherResponse[] {
    const held = this.shards.shardsByDispatcher();
    return this.dispatcherRegistry
      .list()
      .map(({ id, address, startedAt }) => ({ id, address, startedAt, shards: held.get(id) ?? [] }));
  }
}
