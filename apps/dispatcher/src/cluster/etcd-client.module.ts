import { Global, Module, OnApplicationShutdown, Inject } from '@nestjs/common';
import type { Etcd3 } from 'etcd3';
import { APP_CONFIG, AppConfig } from '@app/config';
import { etcdClient } from '@app/discovery';

export const ETCD_CLIENT = Symbol('ETCD_CLIENT');

/** One etcd client for the dispatcher (discovery, registration), or null with static discovery. */
@Global()
@Module({
  providers: [
    {
      provide: ETCD_CLIENT,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig): Etcd3 | null =>
        config.etcd.hosts.length > 0 ? etcdClient(config.etcd.hosts) : null,
    },
  ],
  exports: [ETCD_CLIENT],
})
export class EtcdClientModule implements OnApplicationShutdown {
  constructor(@Inject(ETCD_CLIENT) private readonly client: Etcd3 | null) {}

  onApplicationShutdown(): void {
    this.client?.close();
  }
}
