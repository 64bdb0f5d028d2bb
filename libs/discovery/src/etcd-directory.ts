import { SHARD_COUNT } from '@app/common';
import { Etcd3 } from 'etcd3';
import { EtcdPrefixCache, EtcdPrefixCacheOptions, PrefixWatchState } from './etcd-prefix-cache';
import { DispatcherInfo, ExecutorDirectory, ExecutorInfo } from './executor-directory';

/** Contract keys: {prefix}/executors/{group}/{id} and {prefix}/dispatchers/{id}. */
export const etcdKeys = {
  executors: (prefix: string) => `${prefix}/executors/`,
  executor: (prefix: string, group: string, id: string) => `${prefix}/executors/${group}/${id}`,
  dispatchers: (prefix: string) => `${prefix}/dispatchers/`,
  dispatcher: (prefix: string, id: string) => `${prefix}/dispatchers/${id}`,
  shards: (prefix: string) => `${prefix}/shards/`,
  shard: (prefix: string, n: number) => `${prefix}/shards/${n}`,
};

/**
 * Executors from etcd. An executor is gone when its key is deleted (lease expiry or revoke): the dispatcher sees
 * the DELETE within a TTL of the executor's death, rather than waiting for the client's own lease-lost event. A watch
 * the client gives up (etcd compacted past it during a disconnect) is replaced after a fresh listing: see
 * EtcdPrefixCache.
 */
export class EtcdExecutorDirectory implements ExecutorDirectory {
  readonly absenceIsFinal = true;
  private readonly cache: EtcdPrefixCache<ExecutorInfo>;

  constructor(client: Etcd3, prefix: string, options?: EtcdPrefixCacheOptions) {
    this.cache = new EtcdPrefixCache<ExecutorInfo>(client, etcdKeys.executors(prefix), options);
  }

  /** Whether the list follows etcd now (false while disconnected or re-listing after a lost watch). */
  watchState(): PrefixWatchState {
    return this.cache.watchState();
  }

  isCurrent(): boolean {
    return this.cache.watchState().live;
  }

  list(): ExecutorInfo[] {
    return this.cache.values();
  }

  onChange(listener: (executors: ExecutorInfo[]) => void): void {
    this.cache.onChange(listener);
  }

  start(): Promise<void> {
    return this.cache.start();
  }

  stop(): Promise<void> {
    return this.cache.stop();
  }
}

export class EtcdDispatcherDirectory {
  private readonly cache: EtcdPrefixCache<DispatcherInfo>;

  constructor(client: Etcd3, prefix: string, options?: EtcdPrefixCacheOptions) {
    this.cache = new EtcdPrefixCache<DispatcherInfo>(client, etcdKeys.dispatchers(prefix), options);
  }

  watchState(): PrefixWatchState {
    return this.cache.watchState();
  }

  list(): DispatcherInfo[] {
    return this.cache.values();
  }

  onChange(listener: (dispatchers: DispatcherInfo[]) => void): void {
    this.cache.onChange(listener);
  }

  start(): Promise<void> {
    return this.cache.start();
  }

  stop(): Promise<void> {
    return this.cache.stop();
  }
}

/**
 * Who holds each shard: `{prefix}/shards/{n}`, valued with the holder's dispatcher id (a plain string), on the
 * holder's lease. A shard missing from the map has no holder.
 */
export class EtcdShardDirectory {
  private readonly cache: EtcdPrefixCache<string>;
  private readonly prefix: string;
  /** holders() as of the last change (read per API item and per evaluation: built once per change). */
  private held: Map<number, string> | null = null;

  constructor(client: Etcd3, prefix: string, options?: EtcdPrefixCacheOptions) {
    this.prefix = etcdKeys.shards(prefix);
    this.cache = new EtcdPrefixCache<string>(client, this.prefix, options, (raw) => raw || undefined);
    this.cache.onChange(() => (this.held = null));
  }

  watchState(): PrefixWatchState {
    return this.cache.watchState();
  }

  /** Shard number → holder id. Keys that are not a shard number of this installation are left out. */
  holders(): ReadonlyMap<number, string> {
    if (this.held) return this.held;
    const out = new Map<number, string>();
    for (const [key, id] of this.cache.byKey()) {
      const n = key.slice(this.prefix.length);
      if (/^(0|[1-9]\d{0,2})$/.test(n) && Number(n) < SHARD_COUNT) out.set(Number(n), id);
    }
    this.held = out;
    return out;
  }

  onChange(listener: () => void): void {
    this.cache.onChange(() => listener());
  }

  start(): Promise<void> {
    return this.cache.start();
  }

  stop(): Promise<void> {
    return this.cache.stop();
  }
}

export function etcdClient(hosts: string[]): Etcd3 {
  return new Etcd3({ hosts, dialTimeout: 3000 });
}
