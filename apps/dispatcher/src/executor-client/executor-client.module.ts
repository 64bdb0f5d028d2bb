import { Module } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@app/config';
import { EXECUTOR_DIRECTORY, StaticExecutorDirectory } from '@app/discovery';
import { ExecutorChannels } from './executor-channels';
import { ExecutorPool } from './executor-pool.service';

@Module({
  providers: [
    ExecutorChannels,
    {
      provide: EXECUTOR_DIRECTORY,
      inject: [APP_CONFIG, ExecutorChannels],
      useFactory: (config: AppConfig, channels: ExecutorChannels) =>
        new StaticExecutorDirectory(config.executor.staticTargets, (address) => channels.probe(address), {
          intervalMs: 1000,
          downAfterMs: 3000,
        }),
    },
    ExecutorPool,
  ],
  exports: [ExecutorPool, ExecutorChannels],
})
export class ExecutorClientModule {}
