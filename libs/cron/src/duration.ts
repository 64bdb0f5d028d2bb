import { CronError } from './cron-error';

// Go's time.Duration is an int64 of nanoseconds; refusing anything larger keeps durations portable
// between this service and Go tooling that reads the same job definitions.
const MAX_DURATION_MS = 9_223_372_036_854n;

const UNIT_MS: Readonly<Record<string, bigint>> = { ms: 1n, s: 1000n, m: 60_000n, h: 3_600_000n };

const COMPONENT = /^(\d*)(?:\.(\d*))?([A-Za-zµμ]*)/;

/**
 * Parses a Go-style duration ("90s", "1h30m", "1.5h", "500ms") into milliseconds.
 * Arithmetic is done in BigInt so that "0.1h" is exactly 360000 and not a float approximation.
 */
export function parseDuration(text: string): number {
  if (typeof text !== 'string') {
    throw new CronError('invalid duration: expected a string');
  }
  const source = text.trim();
  if (source === '') {
    throw new CronError("invalid duration '': empty");
  }
  let rest = source;
  if (rest[0] === '-') {
    throw new CronError(`invalid duration '${source}': negative durations are not allowed`);
  }
  if (rest[0] === '+') {
    rest = rest.slice(1);
  }
  // Go accepts a bare zero without a unit and nothing else without one.
  if (rest === '0') {
    return 0;
  }
  if (rest === '') {
    throw new CronError(`invalid duration '${source}'`);
  }

  let total = 0n;
  while (rest !== '') {
    const match = COMPONENT.exec(rest);
    const whole = match?.[1] ?? '';
    const fraction = match?.[2] ?? '';
    const unit = match?.[3] ?? '';
    if (match === null || (whole === '' && fraction === '')) {
      throw new CronError(`invalid duration '${source}': expected a number at '${rest}'`);
    }
    if (unit === '') {
      throw new CronError(`invalid duration '${source}': missing unit after '${match[0]}' (use ms, s, m or h)`);
    }
    const unitMs = UNIT_MS[unit];
    if (unitMs === undefined) {
      throw new CronError(`invalid duration '${source}': unknown unit '${unit}' (use ms, s, m or h)`);
    }
    const scale = 10n ** BigInt(fraction.length);
    const scaled = (BigInt(whole || '0') * scale + BigInt(fraction || '0')) * unitMs;
    if (scaled % scale !== 0n) {
      throw new CronError(`invalid duration '${source}': finer than one millisecond`);
    }
    total += scaled / scale;
    if (total > MAX_DURATION_MS) {
      throw new CronError(`invalid duration '${source}': too large`);
    }
    rest = rest.slice(match[0].length);
  }
  return Number(total);
}
