import { Logger } from '@nestjs/common';
import { Etcd3, IKeyValue, Watcher } from 'etcd3';
import { Backoff, retryWithBackoff } from '@app/common';

export interface EtcdPrefixCacheOptions {
  /**
   * Lists the prefix again this often even while the watch looks well, and corrects the copy when the two differ:
   * a safety net for a watch that is stuck without saying so. 0: never. Default 30 s.
   */
  relistIntervalMs?: number;
  /** Waits between listings when etcd does not answer (at start, and after a lost watch). */
  backoff?: Pick<Backoff, 'initialMs' | 'maxMs'>;
}

/** How a cache reads the values it stores: JSON unless told otherwise; undefined skips a malformed one. */
export type ValueParser<T> = (raw: string) => T | undefined;

/** Where a cache's watch stands: only `watching` means every change reaches the copy as it happens. */
export type WatchPhase = 'listing' | 'connecting' | 'watching' | 'disconnected' | 'relisting' | 'stopped';

export interface PrefixWatchState {
  prefix: string;
  phase: WatchPhase;
  /** True while the watch is attached: the copy follows etcd. */
  live: boolean;
  /** Since when the cache is in this phase (epoch ms). */
  since: number;
  /** What happened (the error of a disconnect or of a lost watch); empty while watching. */
  reason: string;
}

/** The caches started on each client, so that a health check holding the client can ask whether they follow etcd. */
const cachesByClient = new WeakMap<Etcd3, Set<EtcdPrefixCache<unknown>>>();

/** The watch states of every started cache on `client`. */
export function etcdWatchStates(client: Etcd3): PrefixWatchState[] {
  return [...(cachesByClient.get(client) ?? [])].map((c) => c.watchState());
}

const DEFAULT_RELIST_MS = 30_000;
const DEFAULT_BACKOFF = { initialMs: 200, maxMs: 5000 };

/**
 * A live copy of every JSON value under an etcd prefix: listed, then kept by a watch from the revision after the
 * listing (no put or delete can fall between the two). While etcd is unreachable the last known copy stays, and the
 * client's watcher resumes from its last revision by itself on reconnect.
 *
 * The client gives a watcher up for good when etcd cancels it: above all when etcd compacted past the watcher's
 * revision during a disconnect (the watcher then says `error` once and never again). A cancelled, failed or ended
 * watch makes the cache list the prefix again (with back-off until etcd answers), replace its copy with the listing
 * (so what was deleted meanwhile disappears, and its listeners are told) and watch from the listing's revision + 1.
 * Until that watch is attached, watchState() says the copy is not live.
 */
export class EtcdPrefixCache<T> {
  private readonly logger = new Logger(EtcdPrefixCache.name);
  /** Key → the value as stored (to tell a changed listing from the same one) and parsed. */
  private readonly entries = new Map<string, { raw: string; value: T }>();
  private readonly listeners: ((values: T[]) => void)[] = [];
  private readonly relistMs: number;
  private readonly backoff: Pick<Backoff, 'initialMs' | 'maxMs'>;
  /** The current watcher; events of any other (a lost one) are ignored. */
  private watcher: Watcher | null = null;
  /** Store revision of the listing `entries` was last replaced with: watch events at or below it are in it. */
  private listedRevision = 0n;
  /** Revision of the last watch event applied: a listing older than it would undo that event. */
  private eventRevision = 0n;
  private state: { phase: WatchPhase; since: number; reason: string } = {
    phase: 'listing',
    since: Date.now(),
    reason: '',
  };
  private relistTimer: NodeJS.Timeout | null = null;
  private recovering = false;
  private stopped = false;

  constructor(
    private readonly client: Etcd3,
    private readonly prefix: string,
    options: EtcdPrefixCacheOptions = {},
    private readonly parseValue: ValueParser<T> = (raw) => JSON.parse(raw) as T,
  ) {
    this.relistMs = options.relistIntervalMs ?? DEFAULT_RELIST_MS;
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
  }

  values(): T[] {
    return [...this.entries.values()].map((e) => e.value);
  }

  /** Each key (the prefix included) with its value. */
  byKey(): Map<string, T> {
    return new Map([...this.entries].map(([k, e]) => [k, e.value]));
  }

  onChange(listener: (values: T[]) => void): void {
    this.listeners.push(listener);
  }

  watchState(): PrefixWatchState {
    return { prefix: this.prefix, live: this.state.phase === 'watching', ...this.state };
  }

  /**
   * Resolves once the prefix is listed and watched from there, which takes as long as etcd is unreachable: callers that
   * must not wait for etcd (a process starting before it) do not await it; the copy is empty and not live until then.
   */
  async start(): Promise<void> {
    this.stopped = false;
    let set = cachesByClient.get(this.client);
    if (!set) cachesByClient.set(this.client, (set = new Set()));
    set.add(this as EtcdPrefixCache<unknown>);
    this.enter('listing', '');
    const revision = await this.listUntilAnswered('not reachable');
    if (this.stopped) return;
    this.watchFrom(revision);
    if (this.relistMs > 0) {
      this.relistTimer = setInterval(() => void this.safetyRelist(), this.relistMs);
      this.relistTimer.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.enter('stopped', '');
    cachesByClient.get(this.client)?.delete(this as EtcdPrefixCache<unknown>);
    if (this.relistTimer) clearInterval(this.relistTimer);
    this.relistTimer = null;
    const watcher = this.watcher;
    this.watcher = null;
    await watcher?.cancel().catch(() => undefined);
  }

  /** Lists until etcd answers (or the cache is stopped); returns the listing's revision. */
  private listUntilAnswered(what: string): Promise<bigint> {
    return retryWithBackoff(() => this.relist(), {
      ...this.backoff,
      retryable: () => !this.stopped,
      onRetry: (e, _attempt, waitMs) =>
        this.logger.warn(`etcd ${what} for ${this.prefix} (${(e as Error).message}); retrying in ${waitMs} ms`),
    });
  }

  /**
   * Attaches a watcher from the revision after `revision`. Its listeners are on before any answer can arrive
   * (`watcher()` attaches synchronously; `create()` would hand the watcher over only after `connected`, and a cancel
   * arriving in the same read would be emitted with no `error` listener).
   */
  private watchFrom(revision: bigint): void {
    if (this.stopped) return;
    this.enter('connecting', '');
    const watcher = this.client
      .watch()
      .prefix(this.prefix)
      .startRevision(String(revision + 1n))
      .watcher();
    this.watcher = watcher;
    const current = () => this.watcher === watcher && !this.stopped;
    watcher.on('connected', () => {
      if (!current()) return;
      if (this.state.phase === 'disconnected') this.logger.log(`etcd watch on ${this.prefix} resumed`);
      this.enter('watching', '');
    });
    watcher.on('put', (kv: IKeyValue) => current() && this.apply(kv, 'put'));
    watcher.on('delete', (kv: IKeyValue) => current() && this.apply(kv, 'delete'));
    watcher.on('disconnected', (e: Error) => {
      if (!current()) return;
      // Said again on every failed reconnect: logged once per outage.
      if (this.state.phase !== 'disconnected') {
        this.logger.warn(`etcd watch on ${this.prefix} disconnected (${e.message}); keeping the last list`);
        this.enter('disconnected', e.message);
      }
    });
    // etcd gives no reason for a compaction ("Watcher canceled: "): name the usual cause.
    watcher.on('error', (e: Error) => {
      const said = e.message.replace(/[:\s]+$/, '') || e.name;
      this.lost(watcher, /canceled$/i.test(said) ? `${said}, most likely compacted past its revision` : said);
    });
    watcher.on('end', () => this.lost(watcher, 'the watch ended'));
  }

  /** The client gave `watcher` up: list again and watch from there. */
  private lost(watcher: Watcher, reason: string): void {
    if (this.watcher !== watcher || this.stopped) return;
    this.watcher = null;
    this.enter('relisting', reason);
    this.logger.warn(`etcd watch on ${this.prefix} given up (${reason}); listing again and watching from there`);
    void this.recover();
  }

  private async recover(): Promise<void> {
    if (this.recovering) return;
    this.recovering = true;
    try {
      this.watchFrom(await this.listUntilAnswered('not reachable to list again'));
    } catch {
      // Stopped.
    } finally {
      this.recovering = false;
    }
  }

  private async safetyRelist(): Promise<void> {
    if (this.stopped || this.recovering) return;
    try {
      const changed = await this.relistAndReport();
      if (changed && this.state.phase === 'watching') {
        this.logger.warn(`etcd listing of ${this.prefix} differed from the watched copy; corrected`);
      }
    } catch (e) {
      this.logger.debug(`safety listing of ${this.prefix} failed: ${(e as Error).message}`);
    }
  }

  /**
   * Lists the prefix and replaces the copy with it; returns the revision the copy now holds (a safety-net listing
   * that landed meanwhile may be newer than this one).
   */
  private async relist(): Promise<bigint> {
    await this.relistAndReport();
    return this.listedRevision;
  }

  /** Lists and replaces the copy unless a newer watch event already arrived; true when the copy changed. */
  private async relistAndReport(): Promise<boolean> {
    if (this.stopped) throw new Error('stopped');
    const res = await this.client.getAll().prefix(this.prefix).exec();
    const revision = BigInt(res.header.revision);
    if (this.stopped || revision < this.eventRevision || revision < this.listedRevision) return false;
    this.listedRevision = revision;
    const next = new Map<string, { raw: string; value: T }>();
    for (const kv of res.kvs) {
      const key = kv.key.toString();
      const raw = kv.value.toString();
      const value = raw === this.entries.get(key)?.raw ? this.entries.get(key)!.value : this.parse(key, raw);
      if (value !== undefined) next.set(key, { raw, value });
    }
    const changed = next.size !== this.entries.size || [...next].some(([k, e]) => this.entries.get(k)?.raw !== e.raw);
    if (!changed) return false;
    this.entries.clear();
    for (const [k, e] of next) this.entries.set(k, e);
    this.emit();
    return true;
  }

  private apply(kv: IKeyValue, type: 'put' | 'delete'): void {
    const revision = BigInt(kv.mod_revision);
    // Already in the listing the copy was last replaced with.
    if (revision <= this.listedRevision) return;
    if (revision > this.eventRevision) this.eventRevision = revision;
    const key = kv.key.toString();
    if (type === 'delete') {
      if (this.entries.delete(key)) this.emit();
      return;
    }
    const raw = kv.value.toString();
    const value = this.parse(key, raw);
    // A value that can not be read says nothing usable about the key: it is no longer what it was.
    if (value === undefined) {
      if (this.entries.delete(key)) this.emit();
      return;
    }
    this.entries.set(key, { raw, value });
    this.emit();
  }

  private parse(key: string, raw: string): T | undefined {
    let value: T | undefined;
    try {
      value = this.parseValue(raw);
    } catch {
      value = undefined;
    }
    if (value === undefined) this.logger.warn(`ignoring a malformed value at ${key}`);
    return value;
  }

  private enter(phase: WatchPhase, reason: string): void {
    if (this.state.phase === phase && this.state.reason === reason) return;
    this.state = { phase, since: Date.now(), reason };
  }

  private emit(): void {
    const values = this.values();
    for (const l of this.listeners) l(values);
  }
}
