import { withDeadline } from './deadline';

describe('withDeadline', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('answers with the promise when it settles in time', async () => {
    const p = new Promise<string>((resolve) => setTimeout(() => resolve('ok'), 999));
    const raced = withDeadline(p, 1000, 'no answer');
    await jest.advanceTimersByTimeAsync(999);
    await expect(raced).resolves.toBe('ok');
  });

  it('passes the promise rejection through', async () => {
    const failure = new Error('refused');
    await expect(withDeadline(Promise.reject(failure), 1000, 'no answer')).rejects.toBe(failure);
  });

  it('rejects naming what did not happen and the deadline once it passes', async () => {
    let error: Error | undefined;
    const raced = withDeadline(new Promise<never>(() => undefined), 1500, 'lock() did not settle').catch(
      (e: Error) => (error = e),
    );
    await jest.advanceTimersByTimeAsync(1499);
    expect(error).toBeUndefined();
    await jest.advanceTimersByTimeAsync(1);
    await raced;
    expect(error?.message).toBe('lock() did not settle within 1500 ms');
  });
});
