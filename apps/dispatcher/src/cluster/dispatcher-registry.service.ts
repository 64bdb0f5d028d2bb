import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import type { Etcd3 } from 'etcd3';
import { APP_CONFIG, AppConfig } from '@app/config';
import { DispatcherInfo, EtcdDispatcherDirectory, etcdKeys, EtcdRegistration } from '@app/discovery';
import { ETCD_CLIENT } from './etcd-client.module';

/** This dispatcher's entry in etcd ({prefix}/dispatchers/{id}) and the list of all of them. */
@Injectable()
export class DispatcherRegistry implements OnApplicationShutdown {
  private readonly self: DispatcherInfo;
  private readonly registration: EtcdRegistration | null;
  private readonly directory: EtcdDispatcherDirectory | null;

  constructor(@Inject(APP_CONFIG) config: AppConfig, @Inject(ETCD_CLIENT) etcd: Etcd3 | null) {
    const d = config.dispatcher;
    this.self = { id: d.id, address: `${d.host}:${d.port}`, startedAt: new Date().toISOString() };
    this.registration = etcd
      ? new EtcdRegistration(etcd, etcdKeys.dispatcher(config.etcd.prefix, d.id), config.etcd.leaseTtlSeconds)
      : null;
    this.directory = etcd ? new EtcdDispatcherDirectory(etcd, config.etcd.prefix) : null;
  }

  /** Called once the HTTP server listens. */
  async register(): Promise<void> {
    await this.registration?.put(this.self);
    await this.directory?.start();
  }

  list(): DispatcherInfo[] {
    return this.directory ? this.directory.list() : [this.self];
  }

  async onApplicationShutdown(): Promise<void> {
    await this.directory?.stop();
    await this.registration?.stop();
  }
}
