/**
 * The fast guard in front of the ledger: among dispatchers, the one that takes a tick's lock claims the tick; the
 * others neither run it nor wait for it. The ledger's unique key stays the final fence, so a lock that is lost,
 * expires or is never taken (Redis down) can make a tick late, never doubled.
 */
export interface TickLock {
  /**
   * Takes many keys in one round trip (the ticks of one timer firing): answers, per key, whether this process holds
   * it now. Each key stays its own lock: losing one tick to another dispatcher takes no other. Never waits for
   * another holder.
   */
  tryAcquireMany(keys: string[], ttlMs: number): Promise<boolean[]>;
  /** Releases the keys this process holds; others' keys are left alone. */
  releaseMany(keys: string[]): Promise<void>;
  /** 'ok', or why the lock degraded to the ledger fence alone. */
  health(): Promise<{ status: 'ok' | 'degraded'; detail: string }>;
}

export const TICK_LOCK = Symbol('TICK_LOCK');

/** Contract key: {prefix}:lock:{jobId}:{tickKey}:{attempt}[:{executorKey}] */
export function tickLockKey(prefix: string, jobId: number, tickKey: string, attempt: number, executorKey = ''): string {
  return `${prefix}:lock:${jobId}:${tickKey}:${attempt}${executorKey ? `:${executorKey}` : ''}`;
}
