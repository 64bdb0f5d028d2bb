import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import type { Etcd3 } from 'etcd3';
import { APP_CONFIG, AppConfig } from '@app/config';
import { DispatcherInfo, EtcdDispatcherDirectory, etcdKeys, EtcdRegistration } from '@app/discovery';
import { ETCD_CLIENT } from './etcd-client.module';

/** This dispatcher's entry in etcd ({prefix}/dispatchers/{id}) and the list of all of them. */
@Injectable()
export class DispatcherRegistry implements OnApplicationShutdown {
  private readonly logger = new Logger(DispatcherRegistry.name);
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

  /**
   * Called once the HTTP server listens. Not awaited: etcd may be down (free start order), and both the lease grant
   * and the first listing retry with back-off by themselves until it answers; the API is served meanwhile.
   */
  register(): void {
    this.registration
      ?.put(this.self)
      .catch((e: Error) => this.logger.warn(`registration of this dispatcher failed: ${e.message}`));
    // Rejects only when stopped before etcd answered.
    this.directory?.start().catch(() => undefined);
  }

  list(): DispatcherInfo[] {
    return this.directory ? this.directory.list() : [this.self];
  }

  async onApplicationShutdown(): Promise<void> {
    await this.directory?.stop();
    await this.registration?.stop();
  }
}
