import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { LogThrottle } from '@app/common';
import type { ExecutorInfo } from '@app/discovery';
import { ExecutorGrpcClient } from './executor-grpc.client';
import type { ExecutorLink } from './executor-link';

/** The ExecutorLink (credentials and token) main.ts built from the config at start. */
export const EXECUTOR_LINK = Symbol('EXECUTOR_LINK');

/** The open gRPC channels, one per executor address, shared by discovery probes and run sends. */
@Injectable()
export class ExecutorChannels implements OnApplicationShutdown {
  private readonly logger = new Logger(ExecutorChannels.name);
  // Probes run every second and runs keep coming: one line per executor per minute is enough to be seen.
  private readonly refusals = new LogThrottle((m) => this.logger.error(m), 60_000);
  private readonly clients = new Map<string, ExecutorGrpcClient>();

  constructor(@Inject(EXECUTOR_LINK) private readonly link: ExecutorLink) {}

  get(address: string): ExecutorGrpcClient {
    let c = this.clients.get(address);
    if (!c) {
      c = new ExecutorGrpcClient(address, this.link, () => this.refused(address));
      this.clients.set(address, c);
      // Connect now so the first run does not pay for the channel.
      c.connect(2000).catch(() => undefined);
    }
    return c;
  }

  /** Closes channels to addresses not in `keep`. */
  retain(keep: Set<string>): void {
    for (const [address, c] of this.clients) {
      if (!keep.has(address)) {
        c.close();
        this.clients.delete(address);
      }
    }
  }

  async probe(address: string): Promise<ExecutorInfo> {
    const h = await this.get(address).health(2500);
    return {
      id: h.executorId,
      address: h.address || address,
      group: h.group,
      capacity: h.capacity,
      running: h.running,
      startedAt: h.startedAt,
      draining: h.draining,
    };
  }

  private refused(address: string): void {
    this.refusals.warn(
      `unauthenticated:${address}`,
      `executor ${address} refused this dispatcher's calls (UNAUTHENTICATED): ` +
        `[executor] token differs between them${this.link.token ? '' : ' (it is empty here)'}`,
    );
  }

  onApplicationShutdown(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
