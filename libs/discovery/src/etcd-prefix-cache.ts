import { Logger } from '@nestjs/common';
import { Etcd3, IKeyValue, Watcher } from 'etcd3';
import { retryWithBackoff } from '@app/common';

/**
 * A live copy of every JSON value under an etcd prefix: listed once, then kept by a watch. While etcd is
 * unreachable the last known copy stays (the watcher reconnects and resyncs on its own).
 */
export class EtcdPrefixCache<T> {
  private readonly logger = new Logger(EtcdPrefixCache.name);
  private readonly entries = new Map<string, T>();
  private watcher: Watcher | null = null;
  private readonly listeners: ((values: T[]) => void)[] = [];

  constructor(
    private readonly client: Etcd3,
    private readonly prefix: string,
  ) {}

  values(): T[] {
    return [...this.entries.values()];
  }

  onChange(listener: (values: T[]) => void): void {
    this.listeners.push(listener);
  }

  async start(): Promise<void> {
    const revision = await retryWithBackoff(() => this.resync(), {
      initialMs: 200,
      maxMs: 5000,
      onRetry: (e, _attempt, waitMs) =>
        this.logger.warn(`etcd not reachable for ${this.prefix} (${(e as Error).message}); retrying in ${waitMs} ms`),
    });
    // From the revision after the listing: no put or delete can fall between the two. The watcher resumes from its
    // last revision by itself after a reconnect, so there is no relisting (which could race its events).
    this.watcher = await this.client
      .watch()
      .prefix(this.prefix)
      .startRevision(String(BigInt(revision) + 1n))
      .create();
    this.watcher.on('put', (kv: IKeyValue) => this.set(kv.key.toString(), kv.value.toString()));
    this.watcher.on('delete', (kv: IKeyValue) => {
      if (this.entries.delete(kv.key.toString())) this.emit();
    });
    this.watcher.on('disconnected', () =>
      this.logger.warn(`etcd watch on ${this.prefix} disconnected; keeping the last list`),
    );
    this.watcher.on('error', (e: Error) => this.logger.warn(`etcd watch error: ${e.message}`));
  }

  async stop(): Promise<void> {
    await this.watcher?.cancel().catch(() => undefined);
  }

  /** Lists the prefix; returns the store revision of that listing. */
  private async resync(): Promise<string> {
    const res = await this.client.getAll().prefix(this.prefix).exec();
    this.entries.clear();
    for (const kv of res.kvs) this.parse(kv.key.toString(), kv.value.toString());
    this.emit();
    return String(res.header.revision);
  }

  private set(key: string, raw: string): void {
    if (this.parse(key, raw)) this.emit();
  }

  private parse(key: string, raw: string): boolean {
    try {
      this.entries.set(key, JSON.parse(raw) as T);
      return true;
    } catch {
      this.logger.warn(`ignoring a malformed value at ${key}`);
      return false;
    }
  }

  private emit(): void {
    const values = this.values();
    for (const l of this.listeners) l(values);
  }
}
