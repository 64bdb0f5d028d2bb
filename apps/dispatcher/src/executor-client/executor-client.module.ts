import { Module } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@app/config';
import { EtcdExecutorDirectory, EXECUTOR_DIRECTORY, StaticExecutorDirectory } from '@app/discovery';
import { ETCD_CLIENT, EtcdClientModule } from '../cluster/etcd-client.module';
import type { Etcd3 } from 'etcd3';
import { ExecutorChannels } from './executor-channels';
import { ExecutorPool } from './executor-pool.service';

/**
 * Static discovery unlists an executor after this long without an answer to its health probe: a lease TTL, at
 * least 3 s, since a busy executor can answer slowly.
 */
export function staticDownAfterMs(config: AppConfig): number {
  return Math.max(3000, config.etcd.leaseTtlSeconds * 1000);
}

@Module({
  imports: [EtcdClientModule],
  providers: [
    ExecutorChannels,
    {
      provide: EXECUTOR_DIRECTORY,
      inject: [APP_CONFIG, ExecutorChannels, ETCD_CLIENT],
      useFactory: (config: AppConfig, channels: ExecutorChannels, etcd: Etcd3 | null) =>
        etcd
          ? new EtcdExecutorDirectory(etcd, config.etcd.prefix)
          : new StaticExecutorDirectory(config.executor.staticTargets, (address) => channels.probe(address), {
              intervalMs: 1000,
              downAfterMs: staticDownAfterMs(config),
            }),
    },
    ExecutorPool,
  ],
  exports: [ExecutorPool, ExecutorChannels],
})
export class ExecutorClientModule {}
