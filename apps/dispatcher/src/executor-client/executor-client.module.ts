import { DynamicModule, Module } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@app/config';
import { EtcdExecutorDirectory, EXECUTOR_DIRECTORY, StaticExecutorDirectory } from '@app/discovery';
import { ETCD_CLIENT, EtcdClientModule } from '../cluster/etcd-client.module';
import type { Etcd3 } from 'etcd3';
import { EXECUTOR_LINK, ExecutorChannels } from './executor-channels';
import type { ExecutorLink } from './executor-link';
import { ExecutorPool } from './executor-pool.service';

/**
 * Static discovery unlists an executor after this long without an answer to its health probe: a lease TTL, at
 * least 3 s, since a busy executor can answer slowly.
 */
export function staticDownAfterMs(config: AppConfig): number {
  return Math.max(3000, config.etcd.leaseTtlSeconds * 1000);
}

@Module({})
export class ExecutorClientModule {
  /** `link`: how to reach executors (TLS, token), built by main.ts before the app so a bad file stops the start. */
  static forRoot(link: ExecutorLink): DynamicModule {
    return {
      module: ExecutorClientModule,
      imports: [EtcdClientModule],
      providers: [
        { provide: EXECUTOR_LINK, useValue: link },
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
    };
  }
}
