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
  private registered = false;

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
    if (this.registered) return;
    this.registered = true;
    this.registration
      ?.put(this.self)
      .catch((e: Error) => this.logger.warn(`registration of this dispatcher failed: ${e.message}`));
    // Rejects only when stopped before etcd answered.
    this.directory?.start().catch(() => undefined);
  }

  list(): DispatcherInfo[] {
    return this.directory ? this.directory.list() : [this.self];
  }

  get selfId(): string {
    return this.self.id;
  }

  /** Whether this dispatcher's list follows etcd now (always with static discovery: it knows only itself). */
  listIsLive(): boolean {
    return this.directory ? this.directory.watchState().live : true;
  }

  onListChanged(listener: () => void): void {
    this.directory?.onChange(() => listener());
  }

  /** This dispatcher's lease in etcd, for keys that must vanish with it (its shards); null while it has none. */
  leaseId(): Promise<string> | null {
    return this.registration?.leaseId() ?? null;
  }

  /** Whether this dispatcher's lease is held and was renewed within `ms`. */
  leaseRenewedWithin(ms: number): boolean {
    return this.registration?.renewedWithin(ms) ?? false;
  }

  onRegistered(listener: () => void): void {
    this.registration?.onRegistered(listener);
  }

  /**
   * Leaves etcd now: the lease is revoked, so this dispatcher's entry and every key on its lease (its shards) are
   * gone for every peer at once. (Also done at shutdown; a second call does nothing.)
   */
  async leave(): Promise<void> {
    await this.registration?.stop();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.directory?.stop();
    await this.registration?.stop();
  }
}
