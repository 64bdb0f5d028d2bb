import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@app/config';
import { REGISTRATION, Registration } from '@app/discovery';
import { ActiveRuns } from './active-runs';
import { LedgerWatch } from './ledger-watch.service';

/** How often the load figure in discovery is refreshed (when it changed). */
const LOAD_UPDATE_MS = 2000;
const POLL_MS = 100;
/** After the drain timeout, how long stopped runs get to record their result. */
const HARD_STOP_MS = 10_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * This executor in discovery: registered once the gRPC server listens and the schema is there (an executor that can
 * not record a run must not be offered one), its load kept fresh, and on SIGTERM drained (marked `draining` so
 * nothing new is routed here, running tasks given `drain_timeout`, the rest stopped as lost so their job's retries
 * apply elsewhere) before the lease is revoked. A lease that can not be renewed for a TTL stops every run here:
 * dispatchers will have declared them lost and retried them.
 */
@Injectable()
export class Presence implements BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger(Presence.name);
  private readonly startedAt = new Date().toISOString();
  private loadTimer: NodeJS.Timeout | null = null;
  /** Whether register() put this executor in discovery: before that, shutdown has no entry to update. */
  private registered = false;
  /** In discovery with a live lease (static discovery: once registered): dispatchers list this executor. */
  private listed = false;
  private readonly listedListeners: (() => void)[] = [];
  draining = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(REGISTRATION) private readonly registration: Registration,
    private readonly active: ActiveRuns,
    private readonly ledger: LedgerWatch,
  ) {}

  get executorId(): string {
    return this.config.executor.id;
  }

  /**
   * Whether dispatchers list this executor: registered, and its lease live. A run started while not listed would be
   * declared lost by every dispatcher (its executor is absent from discovery), so the broker consumer takes runs only
   * while this holds.
   */
  get inDiscovery(): boolean {
    return this.listed && !this.draining;
  }

  /** Called when inDiscovery may have changed (registered, lease lost, registered again). */
  onDiscoveryChange(listener: () => void): void {
    this.listedListeners.push(listener);
  }

  private setListed(listed: boolean): void {
    if (this.listed === listed) return;
    this.listed = listed;
    for (const l of this.listedListeners) l();
  }

  /** What discovery lists and Health answers about this executor. */
  describe() {
    const e = this.config.executor;
    return {
      id: e.id,
      address: e.advertise,
      group: e.group,
      capacity: e.capacity,
      running: this.active.size,
      startedAt: this.startedAt,
      draining: this.draining,
    };
  }

  /**
   * Called once the gRPC server listens; registers once the schema is there (never, when the executor stops first).
   * With etcd down the registration retries with back-off by itself, so this may take long: not awaited at start.
   */
  async register(): Promise<void> {
    if (!(await this.ledger.schemaReady()) || this.draining) return;
    this.registered = true;
    this.registration.onLeaseLost(() => {
      this.setListed(false);
      this.active.stopAll({ kind: 'lost', message: `executor ${this.executorId} lost its discovery lease` });
    });
    this.registration.onRegistered(() => this.setListed(true));
    await this.registration.put(this.describe());
    this.setListed(true);
    let last = this.active.size;
    this.loadTimer = setInterval(() => {
      if (this.active.size === last || this.draining) return;
      last = this.active.size;
      this.registration
        .put(this.describe())
        .catch((e: Error) => this.logger.warn(`registration update failed: ${e.message}`));
    }, LOAD_UPDATE_MS);
  }

  /** SIGTERM: take nothing new, let running tasks finish within drain_timeout, then hand the rest back. */
  async beforeApplicationShutdown(signal?: string): Promise<void> {
    this.draining = true;
    for (const l of this.listedListeners) l();
    // First leave the routing tables (nothing new arrives), keeping the lease so finishing runs are not lost. Not
    // registered yet (the schema never came): nothing to update, and a put would take a lease now.
    if (this.registered) await this.registration.put(this.describe()).catch(() => undefined);
    const budgetMs = this.config.executor.drainTimeoutSeconds * 1000;
    this.logger.log(`draining (${signal ?? 'shutdown'}): ${this.active.size} run(s), up to ${budgetMs} ms`);
    await this.waitForIdle(Date.now() + budgetMs);
    if (this.active.size > 0) {
      // Declared lost so that the job's retries apply (on another executor), rather than silently dropped.
      this.active.stopAll({
        kind: 'lost',
        message: `executor ${this.executorId} stopped before the run finished (drain timeout)`,
      });
      await this.waitForIdle(Date.now() + HARD_STOP_MS);
    }
    await this.registration.stop();
  }

  onApplicationShutdown(): void {
    if (this.loadTimer) clearInterval(this.loadTimer);
  }

  private async waitForIdle(giveUpAt: number): Promise<void> {
    while (this.active.size > 0 && Date.now() < giveUpAt) await sleep(POLL_MS);
  }
}
