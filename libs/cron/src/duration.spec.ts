import { CronError } from './cron-error';
import { parseDuration } from './duration';

describe('parseDuration', () => {
  // Go time.ParseDuration semantics, restricted to ms, s, m and h: 1m = 60 000 ms, 1h = 3 600 000 ms.
  it.each<[string, number]>([
    ['90s', 90_000],
    ['1h30m', 5_400_000],
    ['500ms', 500],
    ['2h', 7_200_000],
    ['1.5h', 5_400_000],
    ['0.1h', 360_000],
    ['1m0.5s', 60_500],
    ['1h1h', 7_200_000],
    ['+5s', 5000],
    ['0', 0],
    ['0s', 0],
  ])('%s = %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each<[string, RegExp]>([
    ['', /empty/],
    ['abc', /'abc'/],
    ['90', /missing unit/],
    ['1d', /unknown unit 'd'/],
    ['1H', /unknown unit 'H'/],
    ['-1s', /negative/],
    ['1.0005s', /finer than one millisecond/],
    ['1h 30m', /expected a number at ' 30m'/],
    ['9999999999h', /too large/],
  ])('refuses %p', (text, pattern) => {
    expect(() => parseDuration(text)).toThrow(CronError);
    expect(() => parseDuration(text)).toThrow(pattern);
  });
});
