import { MONTH_ABBREVIATIONS, WEEKDAY_ABBREVIATIONS } from '@app/contract';
import { CronError } from './cron-error';

export type FieldName = 'second' | 'minute' | 'hour' | 'day-of-month' | 'month' | 'day-of-week';

export interface FieldSpec {
  readonly name: FieldName;
  readonly min: number;
  /** The largest value that may be written. */
  readonly max: number;
  /**
   * The field's last value in its own order, where `*` and `N/step` end: `max`, except in day-of-week, whose 7 is a
   * second spelling of Sunday (0) and not a day after Saturday.
   */
  readonly last: number;
  /** Upper-case names; names[i] stands for the value min + i. */
  readonly names?: readonly string[];
  /** Quartz-style '?' is only meaningful where it lets the other day field decide. */
  readonly allowsQuestionMark: boolean;
}

export const SECOND_FIELD: FieldSpec = { name: 'second', min: 0, max: 59, last: 59, allowsQuestionMark: false };
export const MINUTE_FIELD: FieldSpec = { name: 'minute', min: 0, max: 59, last: 59, allowsQuestionMark: false };
export const HOUR_FIELD: FieldSpec = { name: 'hour', min: 0, max: 23, last: 23, allowsQuestionMark: false };
export const DAY_OF_MONTH_FIELD: FieldSpec = {
  name: 'day-of-month',
  min: 1,
  max: 31,
  last: 31,
  allowsQuestionMark: true,
};
export const MONTH_FIELD: FieldSpec = {
  name: 'month',
  min: 1,
  max: 12,
  last: 12,
  names: MONTH_ABBREVIATIONS,
  allowsQuestionMark: false,
};
// 7 is accepted as a second spelling of Sunday wherever a value is written (`7`, `5-7` = Fri-Sun, `1-7/2` =
// Mon, Wed, Fri, Sun) and folded onto 0 once the field is parsed. `*` and `N/step` end at Saturday, as in
// robfig/cron (day-of-week 0-6), so `1/2` is Mon, Wed, Fri and a step never wraps onto Sunday.
export const DAY_OF_WEEK_FIELD: FieldSpec = {
  name: 'day-of-week',
  min: 0,
  max: 7,
  last: 6,
  names: WEEKDAY_ABBREVIATIONS,
  allowsQuestionMark: true,
};

/** A parsed field, shaped for the search: one table lookup answers "next allowed value >= v". */
export interface CronField {
  /** Allowed values ascending (day-of-week: 0-6, Sunday as 0). */
  readonly values: readonly number[];
  /** nextAllowed[v] = smallest allowed value >= v, or -1; defined for v in 0..last+1. */
  readonly nextAllowed: Int16Array;
  /** True only for a literal '*' or '?': the DOM/DOW OR rule and the DST rule depend on the spelling. */
  readonly unrestricted: boolean;
}

// Quartz extensions we deliberately do not implement; they get a dedicated message rather than
// "unknown name" so users understand the syntax is recognised but unsupported.
const UNSUPPORTED_LETTERS: Readonly<Record<string, string>> = { L: 'L', LW: 'L', W: 'W' };

// Start-up parses one expression per job and most jobs share field spellings ('0', '*', '*/5'), so
// parsed fields — immutable once built — are reused. Bounded so hostile input cannot grow it forever.
const MAX_CACHED_FIELDS = 4096;
const fieldCache = new Map<string, CronField>();

export function parseField(spec: FieldSpec, text: string): CronField {
  const key = `${spec.name} ${text}`;
  let field = fieldCache.get(key);
  if (field === undefined) {
    field = buildField(spec, text);
    if (fieldCache.size >= MAX_CACHED_FIELDS) {
      fieldCache.clear();
    }
    fieldCache.set(key, field);
  }
  return field;
}

function buildField(spec: FieldSpec, text: string): CronField {
  const allowed = new Uint8Array(spec.max + 2);
  if (text === '?') {
    if (!spec.allowsQuestionMark) {
      throw new CronError(
        `${spec.name} field: '?' is only allowed in the day-of-month and day-of-week fields, got '${text}'`,
      );
    }
    allowed.fill(1, spec.min, spec.max + 1);
  } else {
    for (const item of text.split(',')) {
      parseItem(spec, item, text, allowed);
    }
  }
  if (spec.max > spec.last && allowed[spec.max] === 1) {
    allowed[spec.min] = 1; // Sunday written as 7
  }
  const values: number[] = [];
  const nextAllowed = new Int16Array(spec.last + 2).fill(-1);
  for (let v = spec.last; v >= 0; v--) {
    const isAllowed = v >= spec.min && allowed[v] === 1;
    if (isAllowed) {
      values.unshift(v);
    }
    nextAllowed[v] = isAllowed ? v : nextAllowed[v + 1];
  }
  return { values, nextAllowed, unrestricted: text === '*' || text === '?' };
}

function parseItem(spec: FieldSpec, item: string, fieldText: string, allowed: Uint8Array): void {
  if (item === '') {
    throw fieldError(spec, `empty element in list '${fieldText}'`);
  }
  if (item.includes('#')) {
    throw new CronError(`# is not supported (${spec.name} field): '${item}'`);
  }
  for (const run of item.match(/[A-Za-z]+/g) ?? []) {
    const upper = run.toUpperCase();
    const unsupported = UNSUPPORTED_LETTERS[upper];
    if (unsupported !== undefined) {
      throw new CronError(`${unsupported} is not supported (${spec.name} field): '${item}'`);
    }
    if (spec.names === undefined) {
      throw fieldError(spec, `unexpected '${run}' in '${item}' (names are not allowed here)`);
    }
    if (!spec.names.includes(upper)) {
      throw fieldError(spec, `unknown name '${run}' in '${item}' (expected one of ${spec.names.join(', ')})`);
    }
  }
  const stray = /[^0-9A-Za-z*,/-]/.exec(item);
  if (stray !== null) {
    throw fieldError(
      spec,
      stray[0] === '?' ? `'?' must stand alone, got '${item}'` : `unexpected character '${stray[0]}' in '${item}'`,
    );
  }

  const [base, stepText, ...extra] = item.split('/');
  if (extra.length > 0) {
    throw fieldError(spec, `more than one '/' in '${item}'`);
  }
  let step = 1;
  if (stepText !== undefined) {
    if (!/^\d+$/.test(stepText)) {
      throw fieldError(spec, `step '${stepText}' in '${item}' is not a number`);
    }
    step = Number(stepText);
    if (step === 0) {
      throw fieldError(spec, `step 0 in '${item}' must be at least 1`);
    }
  }

  let low: number;
  let high: number;
  if (base === '*') {
    low = spec.min;
    high = spec.last;
  } else {
    const bounds = base.split('-');
    if (bounds.length > 2) {
      throw fieldError(spec, `malformed range '${base}' in '${item}'`);
    }
    low = parseValue(spec, bounds[0], item);
    if (bounds.length === 2) {
      high = parseValue(spec, bounds[1], item);
      if (low > high) {
        throw fieldError(spec, `range '${base}' is backwards: start ${bounds[0]} is greater than end ${bounds[1]}`);
      }
    } else {
      // "a/n" means "from a to the end of the field", as in robfig/cron (getRange: end = r.max for a single value
      // with a step) and Vixie cron. The end is the field's last value (Saturday for day-of-week), or a itself when
      // a is written past it (`7/2`: Sunday alone, as before).
      high = stepText === undefined ? low : Math.max(low, spec.last);
    }
  }
  for (let v = low; v <= high; v += step) {
    allowed[v] = 1;
  }
}

function fieldError(spec: FieldSpec, problem: string): CronError {
  return new CronError(`${spec.name} field: ${problem}`);
}

function parseValue(spec: FieldSpec, text: string, item: string): number {
  if (/^\d+$/.test(text)) {
    const value = Number(text);
    if (value < spec.min || value > spec.max) {
      throw new CronError(`${spec.name} field: ${text} is out of range ${spec.min}-${spec.max}`);
    }
    return value;
  }
  const index = spec.names?.indexOf(text.toUpperCase()) ?? -1;
  if (text === '' || index < 0) {
    throw new CronError(`${spec.name} field: expected a number${spec.names ? ' or name' : ''} in '${item}'`);
  }
  return spec.min + index;
}
