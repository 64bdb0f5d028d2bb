import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit, Optional } from '@nestjs/common';
import type { Etcd3 } from 'etcd3';
import { Endpoint, endpointOf, etcdEndpoints, ResolvedEndpoints } from '@app/common';
import { APP_CONFIG, AppConfig } from '@app/config';
import { EtcdDispatcherDirectory } from '@app/discovery';

/** The etcd client the executor registers with; null in static discovery. */
export const EXECUTOR_ETCD = Symbol('EXECUTOR_ETCD');

/**
 * The dispatchers' API addresses, which HTTP tasks may not call (a task's response is stored for anyone with read
 * access): `[dispatcher] host:port` of this executor's own config, plus every dispatcher registered in etcd. Names
 * are resolved as they appear, so that the check, which runs on addresses, knows them.
 */
@Injectable()
export class DispatcherEndpoints implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(DispatcherEndpoints.name);
  private readonly directory: EtcdDispatcherDirectory | null;
  private readonly own: Endpoint;
  /**
   * etcd's JSON API needs no login by default: a task writing `{prefix}/executors/…` could list an executor of its
   * own, which dispatchers would then send the executor token and runs. Its hosts are refused like the API's.
   */
  private readonly etcd: Endpoint[];
  private readonly names = new ResolvedEndpoints((host, e) =>
    this.logger.warn(`dispatcher host '${host}' does not resolve (${e.message}); tried again later`),
  );

  constructor(@Inject(APP_CONFIG) config: AppConfig, @Optional() @Inject(EXECUTOR_ETCD) etcd: Etcd3 | null) {
    this.own = { host: config.dispatcher.host, port: config.dispatcher.port };
    this.etcd = etcdEndpoints(config.etcd.hosts);
    this.directory = etcd ? new EtcdDispatcherDirectory(etcd, config.etcd.prefix) : null;
  }

  onModuleInit(): void {
    void this.names.resolve(this.own.host);
    for (const e of this.etcd) void this.names.resolve(e.host);
    // Rejects only when stopped before etcd answered; the listing retries with back-off by itself.
    this.directory?.start().catch(() => undefined);
  }

  list(): Endpoint[] {
    const endpoints = [this.own, ...this.etcd];
    for (const d of this.directory?.list() ?? []) {
      const e = endpointOf(d.address);
      if (e) endpoints.push(e);
    }
    return this.names.expand(endpoints);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.directory?.stop();
  }
}
