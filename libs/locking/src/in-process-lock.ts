import { TickLock } from './tick-lock';

/** The embedded default: one dispatcher, so a lock in memory with expiry is enough. */
export class InProcessLock implements TickLock {
  private readonly held = new Map<string, number>();

  tryAcquireMany(keys: string[], ttlMs: number): Promise<boolean[]> {
    const now = Date.now();
    const out = keys.map((key) => {
      const until = this.held.get(key);
      if (until !== undefined && until > now) return false;
      this.held.set(key, now + ttlMs);
      return true;
    });
    if (this.held.size > 10_000) this.sweep(now);
    return Promise.resolve(out);
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
