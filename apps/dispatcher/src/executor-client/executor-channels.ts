import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import type { ExecutorInfo } from '@app/discovery';
import { ExecutorGrpcClient } from './executor-grpc.client';

/** The open gRPC channels, one per executor address, shared by discovery probes and run sends. */
@Injectable()
export class ExecutorChannels implements OnApplicationShutdown {
  private readonly clients = new Map<string, ExecutorGrpcClient>();

  get(address: string): ExecutorGrpcClient {
    let c = this.clients.get(address);
    if (!c) {
      c = new ExecutorGrpcClient(address);
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

  onApplicationShutdown(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
