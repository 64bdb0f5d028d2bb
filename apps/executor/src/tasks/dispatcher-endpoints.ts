import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit, Optional } from '@nestjs/common';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Etcd3 } from 'etcd3';
import { APP_CONFIG, AppConfig } from '@app/config';
import { EtcdDispatcherDirectory } from '@app/discovery';
import type { Endpoint } from './runners/egress-policy';

/** The etcd client the executor registers with; null in static discovery. */
export const EXECUTOR_ETCD = Symbol('EXECUTOR_ETCD');

const PORT_OF = /:(\d{1,5})$/;

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
  /** Resolved addresses per registered host name. */
  private readonly resolved = new Map<string, string[]>();

  constructor(@Inject(APP_CONFIG) config: AppConfig, @Optional() @Inject(EXECUTOR_ETCD) etcd: Etcd3 | null) {
    this.own = { host: config.dispatcher.host, port: config.dispatcher.port };
    this.etcd = config.etcd.hosts.map((h) => {
      const url = new URL(h);
      const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 2379);
      return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port, what: "etcd's API ([etcd] hosts)" };
    });
    this.directory = etcd ? new EtcdDispatcherDirectory(etcd, config.etcd.prefix) : null;
  }

  onModuleInit(): void {
    void this.resolve(this.own.host);
    for (const e of this.etcd) void this.resolve(e.host);
    // Rejects only when stopped before etcd answered; the listing retries with back-off by itself.
    this.directory?.start().catch(() => undefined);
  }

  list(): Endpoint[] {
    const endpoints = [this.own, ...this.etcd];
    for (const d of this.directory?.list() ?? []) {
      const port = PORT_OF.exec(d.address);
      if (!port) continue;
      endpoints.push({ host: d.address.slice(0, port.index), port: Number(port[1]) });
    }
    const out: Endpoint[] = [];
    for (const e of endpoints) {
      out.push(e);
      const host = e.host.replace(/^\[(.*)\]$/, '$1');
      if (isIP(host) !== 0) continue;
      const addresses = this.resolved.get(host);
      if (addresses) for (const a of addresses) out.push({ host: a, port: e.port, what: e.what });
      else void this.resolve(host);
    }
    return out;
  }

  private async resolve(host: string): Promise<void> {
    if (isIP(host) !== 0 || this.resolved.has(host)) return;
    this.resolved.set(host, []);
    try {
      const answers = await lookup(host, { all: true });
      this.resolved.set(
        host,
        answers.map((a) => a.address),
      );
    } catch (e) {
      this.resolved.delete(host);
      this.logger.warn(`dispatcher host '${host}' does not resolve (${(e as Error).message}); tried again later`);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.directory?.stop();
  }
}
