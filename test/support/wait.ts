// Polling with a deadline: the only way integration and end-to-end suites wait.
// Timers come from node:timers, so a suite's jest.useFakeTimers() cannot stall a wait.
import { clearTimeout, setTimeout } from 'node:timers';
import { inspect } from 'node:util';

export type Falsy = undefined | null | false | 0 | '';

export interface WaitForOptions {
  /** Give up after this long (measured from the call). */
  timeoutMs: number;
  /** Pause between two probes; default 100 ms. */
  intervalMs?: number;
  /** What is awaited, for the timeout message ("dispatcher /healthz answers 200"). */
  what: string;
  /** Stops the wait early; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Short, single-line rendering of a value or error for messages. */
export function describe(value: unknown, max = 500): string {
  let text: string;
  if (value instanceof Error) text = `${value.name}: ${value.message}`;
  else if (typeof value === 'string') text = JSON.stringify(value);
  else text = inspect(value, { depth: 3, breakLength: Infinity });
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new Error(`aborted: ${describe(reason)}`);
}

/**
 * Calls `probe` until it returns (or resolves to) a truthy value, which is returned.
 * A probe that throws or rejects counts as "not yet". A probe still pending at the
 * deadline is abandoned. On timeout the error names `what` and the last value or
 * error the probe produced.
 */
export async function waitFor<T>(probe: () => Promise<T | Falsy> | T | Falsy, opts: WaitForOptions): Promise<T> {
  const intervalMs = opts.intervalMs ?? 100;
  const started = Date.now();
  const deadline = started + opts.timeoutMs;
  const signal = opts.signal;
  let attempts = 0;
  let last: { kind: 'none' } | { kind: 'value'; value: unknown } | { kind: 'error'; error: unknown } = { kind: 'none' };

  const timeoutError = (stillPending: boolean): Error => {
    const seen: string[] = [];
    if (last.kind === 'value') seen.push(`last value: ${describe(last.value)}`);
    else if (last.kind === 'error') seen.push(`last error: ${describe(last.error)}`);
    else if (!stillPending) seen.push('no probe completed');
    if (stillPending) seen.push(`probe #${attempts} still pending at the deadline`);
    return new Error(
      `Timed out after ${Date.now() - started} ms waiting for ${opts.what} (${attempts} attempts; ${seen.join('; ')})`,
    );
  };

  // Settles with 'tick' after ms (cut to the deadline: then 'timeout'), or 'abort'.
  // Always cleaned up, so no timer or listener outlives the wait.
  const pause = <R>(ms: number, racer?: Promise<R>): Promise<'timeout' | 'abort' | 'tick' | { settled: R }> => {
    const remaining = deadline - Date.now();
    const wait = Math.max(0, Math.min(ms, remaining));
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const timed = new Promise<'timeout' | 'abort' | 'tick'>((resolve) => {
      timer = setTimeout(() => resolve(ms >= remaining ? 'timeout' : 'tick'), wait);
      onAbort = () => resolve('abort');
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    const contenders: Promise<'timeout' | 'abort' | 'tick' | { settled: R }>[] = [timed];
    if (racer) contenders.push(racer.then((settled) => ({ settled })));
    return Promise.race(contenders).finally(() => {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    });
  };

  for (;;) {
    if (signal?.aborted) throw abortError(signal);
    attempts += 1;
    const attempt = (async () => probe())().then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    const outcome = await pause(Math.max(0, deadline - Date.now()), attempt);
    if (outcome === 'abort') throw abortError(signal as AbortSignal);
    if (outcome === 'timeout' || outcome === 'tick') throw timeoutError(true);
    const result = outcome.settled;
    if (result.ok) {
      if (result.value) return result.value;
      last = { kind: 'value', value: result.value };
    } else {
      last = { kind: 'error', error: result.error };
    }
    if (Date.now() >= deadline) throw timeoutError(false);
    const why = await pause(intervalMs);
    if (why === 'abort') throw abortError(signal as AbortSignal);
    if (why === 'timeout') throw timeoutError(false);
  }
}
