import { Logger } from '@nestjs/common';
import { Etcd3, Lease } from 'etcd3';
import { retryWithBackoff } from '@app/common';
import { Registration } from './registration';

/**
 * A key on its own lease of `ttlSeconds`, kept alive. When keep-alives fail for a whole TTL the key is gone from
 * every dispatcher's view, so listeners are told to stop their runs (they will be declared lost and retried
 * elsewhere; running them on would make a duplicate). The lease is then granted again with back-off.
 */
export class EtcdRegistration implements Registration {
  private readonly logger = new Logger(EtcdRegistration.name);
  private lease: Lease | null = null;
  private value: string | null = null;
  private lastRenewed = Date.now();
  /** Whether a lease ever held the key: until then there are no runs to stop (see checkRenewal). */
  private held = false;
  private watchdog: NodeJS.Timeout | null = null;
  private readonly lostListeners: (() => void)[] = [];
  private readonly registeredListeners: (() => void)[] = [];
  private stopped = false;
  private lostSignalled = false;
  private granting: Promise<void> | null = null;

  constructor(
    private readonly client: Etcd3,
    private readonly key: string,
    private readonly ttlSeconds: number,
  ) {}

  onLeaseLost(listener: () => void): void {
    this.lostListeners.push(listener);
  }

  onRegistered(listener: () => void): void {
    this.registeredListeners.push(listener);
  }

  /** The id of the lease that holds the key now, or null (not granted yet, lost, stopped). */
  leaseId(): Promise<string> | null {
    return this.lease && !this.stopped ? this.lease.grant() : null;
  }

  /** Whether the lease is held and was renewed within `ms` (false before the first grant and after a loss). */
  renewedWithin(ms: number): boolean {
    return this.lease !== null && !this.stopped && Date.now() - this.lastRenewed <= ms;
  }

  async put(value: object): Promise<void> {
    this.value = JSON.stringify(value);
    if (this.stopped) return;
    this.watchdog ??= setInterval(() => this.checkRenewal(), 500);
    if (this.lease) {
      await this.lease.put(this.key).value(this.value).exec();
    } else if (this.granting) {
      // A grant is under way (first registration, or after a lost lease): it puts the latest value when it lands.
      return;
    } else {
      await this.grantOnce();
    }
  }

  /** One grant at a time; concurrent callers share it. */
  private grantOnce(): Promise<void> {
    this.granting ??= this.grant().finally(() => (this.granting = null));
    return this.granting;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.watchdog) clearInterval(this.watchdog);
    const lease = this.lease;
    this.lease = null;
    if (lease) await lease.revoke().catch(() => undefined);
  }

  /** Grants until one lease holds the key, or until stop(): a stopped registration takes no more leases. */
  private grant(): Promise<void> {
    return retryWithBackoff(() => this.grantAttempt(), {
      initialMs: 200,
      maxMs: 5000,
      onRetry: (e, _attempt, waitMs) =>
        this.logger.warn(`cannot register ${this.key} in etcd (${(e as Error).message}); retrying in ${waitMs} ms`),
    });
  }

  private async grantAttempt(): Promise<void> {
    if (this.stopped) return;
    const lease = this.client.lease(this.ttlSeconds, { autoKeepAlive: true });
    try {
      await lease.grant();
      if (this.stopped) {
        // stop() ran while we were granting: this lease must not keep the key alive.
        await lease.revoke().catch(() => undefined);
        return;
      }
      await lease
        .put(this.key)
        .value(this.value ?? '{}')
        .exec();
      lease.on('keepaliveSucceeded', () => (this.lastRenewed = Date.now()));
      lease.on('lost', (e: Error) => {
        if (this.lease !== lease || this.stopped) return;
        this.logger.warn(`lease of ${this.key} lost (${e.message}); registering again`);
        this.lease = null;
        void this.grantOnce();
      });
      this.lease = lease;
      if (this.stopped) {
        this.lease = null;
        await lease.revoke().catch(() => undefined);
        return;
      }
      // A put() that came while granting left its value for us.
      if (this.value) await lease.put(this.key).value(this.value).exec();
      this.lastRenewed = Date.now();
      this.held = true;
      this.lostSignalled = false;
      this.logger.log(`registered ${this.key} (lease ${this.ttlSeconds} s)`);
      for (const l of this.registeredListeners) l();
    } catch (e) {
      lease.release();
      throw e;
    }
  }

  /**
   * Signals a lost lease once keep-alives failed for a TTL. Not before the first grant (etcd down at start): this
   * process was never in discovery, so no dispatcher declared its runs lost, and it had none to stop.
   */
  private checkRenewal(): void {
    if (this.stopped || this.lostSignalled || !this.held) return;
    if (Date.now() - this.lastRenewed > this.ttlSeconds * 1000) {
      this.lostSignalled = true;
      this.logger.warn(`lease of ${this.key} not renewed for ${this.ttlSeconds} s: stopping runs`);
      for (const l of this.lostListeners) l();
    }
  }
}
