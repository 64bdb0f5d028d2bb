import { retryWithBackoff } from './backoff';

/** A function that fails `failures` times with the given error, then resolves with 'done'; records call times. */
function flaky(failures: number, error = new Error('down')) {
  const calls: number[] = [];
  const fn = jest.fn(() => {
    calls.push(Date.now());
    return calls.length <= failures ? Promise.reject(error) : Promise.resolve('done');
  });
  return { fn, calls };
}

describe('retryWithBackoff', () => {
  beforeEach(() => jest.useFakeTimers({ now: 0 }));
  afterEach(() => {
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  it('calls once when the first attempt succeeds, and sets no timer', async () => {
    const { fn } = flaky(0);
    await expect(retryWithBackoff(fn, { initialMs: 200, maxMs: 5000 })).resolves.toBe('done');
    expect(fn).toHaveBeenCalledTimes(1);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('doubles the wait from initialMs up to maxMs, and tells onRetry of each retried failure', async () => {
    const { fn, calls } = flaky(6);
    const onRetry = jest.fn();
    const result = retryWithBackoff(fn, { initialMs: 200, maxMs: 1000, onRetry });
    await jest.advanceTimersByTimeAsync(10_000);
    await expect(result).resolves.toBe('done');
    const waits = calls.slice(1).map((t, i) => t - calls[i]);
    expect(waits).toEqual([200, 400, 800, 1000, 1000, 1000]);
    expect(onRetry.mock.calls.map(([, attempt, waitMs]) => [attempt, waitMs])).toEqual([
      [1, 200],
      [2, 400],
      [3, 800],
      [4, 1000],
      [5, 1000],
      [6, 1000],
    ]);
    expect((onRetry.mock.calls[0][0] as Error).message).toBe('down');
  });

  it('with jitter, waits between half and one and a half times the nominal delay', async () => {
    const random = jest.spyOn(Math, 'random');
    random.mockReturnValueOnce(0).mockReturnValueOnce(0.5).mockReturnValueOnce(0.999);
    const { fn, calls } = flaky(3);
    const result = retryWithBackoff(fn, { initialMs: 10, maxMs: 100, jitter: true });
    await jest.advanceTimersByTimeAsync(1000);
    await expect(result).resolves.toBe('done');
    const waits = calls.slice(1).map((t, i) => t - calls[i]);
    // Nominal 10, 20, 40 ms; fake timers round a fractional delay down.
    expect(waits).toEqual([5, 20, 59]);
  });

  it('rethrows an error that is not retryable at once', async () => {
    const fatal = new Error('syntax');
    const { fn } = flaky(1, fatal);
    const onRetry = jest.fn();
    await expect(
      retryWithBackoff(fn, { initialMs: 5, maxMs: 100, retryable: (e) => e !== fatal, onRetry }),
    ).rejects.toBe(fatal);
    expect(fn).toHaveBeenCalledTimes(1);
    expect(onRetry).not.toHaveBeenCalled();
  });

  it('retries a retryable error', async () => {
    const { fn } = flaky(2, new Error('busy'));
    const result = retryWithBackoff(fn, {
      initialMs: 5,
      maxMs: 100,
      retryable: (e) => (e as Error).message === 'busy',
    });
    await jest.advanceTimersByTimeAsync(100);
    await expect(result).resolves.toBe('done');
    expect(fn).toHaveBeenCalledTimes(3);
  });

  it('rethrows the last error once a failure comes after the budget, without waiting again', async () => {
    const { fn, calls } = flaky(Infinity);
    const onRetry = jest.fn();
    const result = retryWithBackoff(fn, { initialMs: 200, maxMs: 5000, budgetMs: 1000, onRetry });
    const settled = result.catch((e: Error) => e);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(((await settled) as Error).message).toBe('down');
    // Attempts at 0, 200, 600 and 1400 ms: the one at 1400 is past the budget and ends it.
    expect(calls).toEqual([0, 200, 600, 1400]);
    expect(onRetry).toHaveBeenCalledTimes(3);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('turns a synchronous throw of fn into a failed attempt', async () => {
    let n = 0;
    const fn = () => {
      if (n++ === 0) throw new Error('sync');
      return Promise.resolve(n);
    };
    const result = retryWithBackoff(fn, { initialMs: 50, maxMs: 50 });
    await jest.advanceTimersByTimeAsync(50);
    await expect(result).resolves.toBe(2);
  });
});
