import { TickLock } from './tick-lock';

/** The embedded default: one dispatcher, so a lock in memory with expiry is enough. */
export class InProcessLock implements TickLock {
  private readonly held = new Map<string, number>();

  tryAcquire(key: string, ttlMs: number): Promise<boolean> {
    const now = Date.now();
    const until = this.held.get(key);
    if (until !== undefined && until > now) return Promise.resolve(false);
    this.held.set(key, now + ttlMs);
    if (this.held.size > 10_000) this.sweep(now);
    return Promise.resolve(true);
  }

  release(key: string): Promise<void> {
    this.held.delete(key);
    return Promise.resolve();
  }

  async tryAcquireMany(keys: string[], ttlMs: number): Promise<boolean[]> {
    const out: boolean[] = [];
    for (const key of keys) out.push(await this.tryAcquire(key, ttlMs));
    return out;
  }

  releaseMany(keys: string[]): Promise<void> {
    for (const key of keys) this.held.delete(key);
    return Promise.resolve();
  }

  health(): Promise<{ status: 'ok'; detail: string }> {
    return Promise.resolve({ status: 'ok', detail: 'in-process lock (single dispatcher)' });
  }

  private sweep(now: number): void {
    for (const [key, until] of this.held) if (until <= now) this.held.delete(key);
  }
}
