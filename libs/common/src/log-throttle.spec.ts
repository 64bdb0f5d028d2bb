import { LogThrottle } from './log-throttle';

describe('LogThrottle', () => {
  let now = 0;
  let lines: (string | Record<string, unknown>)[];
  let throttle: LogThrottle;

  beforeEach(() => {
    now = 1_000_000;
    lines = [];
    throttle = new LogThrottle(
      (m) => lines.push(m),
      10_000,
      () => now,
    );
  });

  it('logs the first of a kind, counts the rest within the interval, and logs the next one with that count', () => {
    // A database outage: 1,000 due jobs fail every second for 25 s.
    for (let s = 0; s < 25; s++, now += 1000) {
      for (let job = 0; job < 1000; job++) throttle.warn('tick', { msg: 'tick handling failed', jobId: job });
    }
    expect(lines).toHaveLength(3);
    expect(lines[0]).toEqual({ msg: 'tick handling failed', jobId: 0 });
    expect(lines[1]).toMatchObject({ msg: 'tick handling failed', repeated: 9999 });
    expect(lines[2]).toMatchObject({ repeated: 9999 });
  });

  it('keeps kinds apart and starts a quiet kind afresh', () => {
    expect(throttle.warn('a', 'first a')).toBe(true);
    expect(throttle.warn('b', 'first b')).toBe(true);
    expect(throttle.warn('a', 'second a')).toBe(false);
    now += 10_000;
    expect(throttle.warn('a', 'third a')).toBe(true);
    now += 20_000;
    expect(throttle.warn('a', 'fourth a')).toBe(true);
    expect(lines).toEqual(['first a', 'first b', 'third a (and 1 more like it in the previous 10 s)', 'fourth a']);
  });
});
