import { Module } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@app/config';
import { EtcdExecutorDirectory, EXECUTOR_DIRECTORY, StaticExecutorDirectory } from '@app/discovery';
import { ETCD_CLIENT, EtcdClientModule } from '../cluster/etcd-client.module';
import type { Etcd3 } from 'etcd3';
import { ExecutorChannels } from './executor-channels';
import { ExecutorPool } from './executor-pool.service';

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
              downAfterMs: 3000,
            }),
    },
    ExecutorPool,
  ],
  exports: [ExecutorPool, ExecutorChannels],
})
export class ExecutorClientModule {}
