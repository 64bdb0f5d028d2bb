export interface Backoff {
  /** The first wait; each later one doubles, up to `maxMs`. */
  initialMs: number;
  maxMs: number;
  /** Draw each wait from [½, 1½) × its nominal delay, so that contenders failing together do not retry together. */
  jitter?: boolean;
  /** Rethrow the error of a failure that comes more than this long after the first attempt began. Default: never. */
  budgetMs?: number;
  /** Errors worth another attempt; any other is rethrown at once. Default: every error. */
  retryable?: (e: unknown) => boolean;
  /** Told of each failure that will be retried (attempt counts from 1), before the wait of `waitMs`. */
  onRetry?: (e: unknown, attempt: number, waitMs: number) => void;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Calls `fn` until it resolves, waiting between attempts with doubling back-off. Hand-written rather than cockatiel's
 * retry policy: cockatiel has no time budget and no [½, 1½) jitter, and its execute() builds a context and an
 * AbortSignal per call, while retryBusy runs this around every ledger statement: success costs one await of `fn`.
 */
export async function retryWithBackoff<T>(fn: () => Promise<T>, backoff: Backoff): Promise<T> {
  const giveUpAt = backoff.budgetMs === undefined ? Infinity : Date.now() + backoff.budgetMs;
  for (let attempt = 1, delay = backoff.initialMs; ; attempt++, delay = Math.min(delay * 2, backoff.maxMs)) {
    try {
      return await fn();
    } catch (e) {
      if ((backoff.retryable && !backoff.retryable(e)) || Date.now() > giveUpAt) throw e;
      const waitMs = backoff.jitter ? delay / 2 + Math.random() * delay : delay;
      backoff.onRetry?.(e, attempt, waitMs);
      await sleep(waitMs);
    }
  }
}
