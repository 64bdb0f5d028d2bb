import { InProcessLock } from './in-process-lock';
import { tickLockKey } from './tick-lock';

describe('InProcessLock', () => {
  beforeEach(() => jest.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') }));
  afterEach(() => jest.useRealTimers());

  it('lets one holder take a key until it is released or expires', async () => {
    const lock = new InProcessLock();
    expect(await lock.tryAcquireMany(['k', 'j'], 1000)).toEqual([true, true]);
    expect(await lock.tryAcquireMany(['k', 'i'], 1000)).toEqual([false, true]);
    await lock.releaseMany(['k']);
    expect(await lock.tryAcquireMany(['k', 'j'], 1000)).toEqual([true, false]);
    jest.advanceTimersByTime(1001);
    expect(await lock.tryAcquireMany(['k', 'j', 'i'], 1000)).toEqual([true, true, true]);
  });

  it('builds the contract key', () => {
    expect(tickLockKey('gocron', 7, '1767225600', 1)).toBe('gocron:lock:7:1767225600:1');
    expect(tickLockKey('gocron', 7, '1767225600', 2, '10.0.0.1:50051')).toBe(
      'gocron:lock:7:1767225600:2:10.0.0.1:50051',
    );
  });
});
