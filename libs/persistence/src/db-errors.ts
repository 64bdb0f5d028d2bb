/** Driver error codes we act on. MariaDB: ER_DUP_ENTRY (1062); SQLite: SQLITE_CONSTRAINT_UNIQUE. */
interface DriverError {
  code?: string;
  errno?: number;
  driverError?: DriverError;
}

function driverError(e: unknown): DriverError {
  const err = (e ?? {}) as DriverError;
  return err.driverError ?? err;
}

export function isDuplicateKey(e: unknown): boolean {
  const d = driverError(e);
  return d.code === 'ER_DUP_ENTRY' || d.errno === 1062 || d.code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/** SQLite's writer lock is taken by another process (SQLITE_BUSY, or SQLITE_LOCKED within one). */
export function isBusy(e: unknown): boolean {
  const code = driverError(e).code ?? '';
  return code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * better-sqlite3 waits for a busy database synchronously, freezing the event loop; so the driver's busy timeout
 * is short and we retry here asynchronously, with jitter, for up to `budgetMs`.
 */
export async function retryBusy<T>(fn: () => Promise<T>, budgetMs = 10_000): Promise<T> {
  const giveUpAt = Date.now() + budgetMs;
  for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
    try {
      return await fn();
    } catch (e) {
      if (!isBusy(e) || Date.now() > giveUpAt) throw e;
      await sleep(delay / 2 + Math.random() * delay);
    }
  }
}
