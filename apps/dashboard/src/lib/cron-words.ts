// A cron expression in plain words, for the common forms ("Every 5 minutes", "At 09:00, Monday to Friday").
// Anything unusual returns null and the UI shows the expression alone: a wrong sentence is worse than none.
// The grammar is the contract's: 5 fields or 6 with leading seconds, macros, `@every`, names, `?` as `*`.
import { CRON_MACROS, MONTH_ABBREVIATIONS, MONTH_WORDS, WEEKDAY_ABBREVIATIONS, WEEKDAY_WORDS } from '@app/contract';

/** A parsed field: unrestricted, `*\/n`, or a list of values and ranges. */
type Field = { kind: 'any' } | { kind: 'step'; step: number } | { kind: 'list'; items: Array<[number, number]> };

function parseValue(s: string, names?: readonly string[], offset = 0): number | null {
  if (/^\d+$/.test(s)) return Number(s);
  const i = names?.indexOf(s.toUpperCase()) ?? -1;
  return i >= 0 ? i + offset : null;
}

function parseField(text: string, min: number, max: number, names?: readonly string[], nameOffset = 0): Field | null {
  if (text === '*' || text === '?') return { kind: 'any' };
  const step = /^\*\/(\d+)$/.exec(text);
  if (step) {
    const n = Number(step[1]);
    return n >= 1 && n <= max ? { kind: 'step', step: n } : null;
  }
  const items: Array<[number, number]> = [];
  for (const part of text.split(',')) {
    const [a, b, extra] = part.split('-');
    if (extra !== undefined) return null;
    const from = parseValue(a, names, nameOffset);
    const to = b === undefined ? from : parseValue(b, names, nameOffset);
    if (from === null || to === null || from < min || to > max || from > to) return null;
    items.push([from, to]);
  }
  return { kind: 'list', items };
}

const single = (f: Field): number | null =>
  f.kind === 'list' && f.items.length === 1 && f.items[0][0] === f.items[0][1] ? f.items[0][0] : null;

/** Every value of a list of singles (no ranges), or null. */
const singles = (f: Field): number[] | null =>
  f.kind === 'list' && f.items.every(([a, b]) => a === b) ? f.items.map(([a]) => a) : null;

const range = (f: Field): [number, number] | null =>
  f.kind === 'list' && f.items.length === 1 && f.items[0][0] !== f.items[0][1] ? f.items[0] : null;

const pad = (n: number) => String(n).padStart(2, '0');
const clock = (h: number, m: number, s: number) => `${pad(h)}:${pad(m)}${s ? `:${pad(s)}` : ''}`;

export function joinWords(words: string[]): string {
  return words.length <= 1 ? words.join('') : `${words.slice(0, -1).join(', ')} and ${words[words.length - 1]}`;
}

const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`;

/** Time of day: `daily` when it names clock times ("At 09:00"), else a frequency ("Every 5 minutes"). */
function describeTime(sec: Field, min: Field, hour: Field): { text: string; daily: boolean } | null {
  if (sec.kind === 'any') {
    return min.kind === 'any' && hour.kind === 'any' ? { text: 'Every second', daily: false } : null;
  }
  if (sec.kind === 'step') {
    return min.kind === 'any' && hour.kind === 'any'
      ? { text: `Every ${plural(sec.step, 'second')}`, daily: false }
      : null;
  }
  const s = single(sec);
  if (s === null) return null;
  const atSecond = s ? ` at second ${s}` : '';
  const m = single(min);
  const h = single(hour);

  if (min.kind === 'any') {
    if (hour.kind === 'any') return { text: `Every minute${atSecond}`, daily: false };
    if (h !== null) return { text: `Every minute from ${clock(h, 0, 0)} to ${clock(h, 59, 0)}`, daily: false };
    return null;
  }
  if (min.kind === 'step') {
    const every = min.step === 1 ? 'Every minute' : `Every ${plural(min.step, 'minute')}`;
    if (hour.kind === 'any') return { text: every + atSecond, daily: false };
    const r = range(hour);
    if (r && !s) return { text: `${every} from ${clock(r[0], 0, 0)} to ${clock(r[1], 59, 0)}`, daily: false };
    if (h !== null && !s) return { text: `${every} from ${clock(h, 0, 0)} to ${clock(h, 59, 0)}`, daily: false };
    return null;
  }
  const minutes = singles(min);
  if (minutes === null) return null;
  const past = (mm: number) => `:${pad(mm)}${s ? `:${pad(s)}` : ''}`;
  if (hour.kind === 'any') return { text: `Every hour at ${joinWords(minutes.map(past))}`, daily: false };
  if (hour.kind === 'step') {
    if (m === null) return null;
    return {
      text: hour.step === 1 ? `Every hour at ${past(m)}` : `Every ${plural(hour.step, 'hour')} at ${past(m)}`,
      daily: false,
    };
  }
  const r = range(hour);
  if (r && m !== null) return { text: `Every hour from ${clock(r[0], m, s)} to ${clock(r[1], m, s)}`, daily: false };
  const hours = singles(hour);
  if (hours === null || hours.length * minutes.length > 6) return null;
  const times = hours.flatMap((hh) => minutes.map((mm) => clock(hh, mm, s)));
  return { text: `At ${joinWords(times)}`, daily: true };
}

const WEEKDAYS = [1, 2, 3, 4, 5];

/** Day-of-week as words; `lead` is how it follows the time ("every Monday", ", Monday to Friday"). */
function describeDow(f: Field): { lead: string; words: string } | null {
  if (f.kind !== 'list') return null;
  const values = [...new Set(f.items.flatMap(([a, b]) => Array.from({ length: b - a + 1 }, (_, i) => (a + i) % 7)))];
  values.sort((a, b) => a - b);
  if (values.length === 7) return null;
  const r = range(f);
  if (r && r[1] <= 6) return { lead: ',', words: `${WEEKDAY_WORDS[r[0]]} to ${WEEKDAY_WORDS[r[1]]}` };
  if (values.join() === WEEKDAYS.join()) return { lead: ' on', words: 'weekdays' };
  if (values.join() === '0,6') return { lead: ' on', words: 'weekends' };
  const one = single(f);
  if (one !== null) return { lead: ' every', words: WEEKDAY_WORDS[one % 7] };
  const list = singles(f);
  if (list === null) return null;
  return { lead: ' on', words: joinWords(list.map((d) => WEEKDAY_WORDS[d % 7])) };
}

function describeDom(f: Field): string | null {
  if (f.kind !== 'list') return null;
  const r = range(f);
  if (r) return `on days ${r[0]} to ${r[1]} of the month`;
  const list = singles(f);
  if (list === null) return null;
  return list.length === 1 ? `on day ${list[0]} of the month` : `on days ${joinWords(list.map(String))} of the month`;
}

function describeMonth(f: Field): string | null {
  if (f.kind !== 'list') return null;
  const r = range(f);
  if (r) return `from ${MONTH_WORDS[r[0] - 1]} to ${MONTH_WORDS[r[1] - 1]}`;
  const list = singles(f);
  if (list === null) return null;
  return `in ${joinWords(list.map((m) => MONTH_WORDS[m - 1]))}`;
}

const UNITS: Record<string, string> = {
  h: 'hour',
  m: 'minute',
  s: 'second',
  ms: 'millisecond',
};

function describeEvery(spec: string): string | null {
  const parts = [...spec.matchAll(/(\d+)(ms|h|m|s)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== spec) return null;
  return `Every ${parts.map((p) => plural(Number(p[1]), UNITS[p[2]])).join(' ')}`;
}

/** Plain words for a cron expression, or null when it is not one of the forms this knows. */
export function cronToWords(expression: string): string | null {
  const expr = expression.trim().replace(/\s+/g, ' ');
  if (expr.startsWith('@every ')) return describeEvery(expr.slice(7).trim());
  const fields = (CRON_MACROS[expr.toLowerCase()] ?? expr).split(' ');
  if (fields.length !== 5 && fields.length !== 6) return null;
  if (fields.length === 5) fields.unshift('0');
  const [secT, minT, hourT, domT, monT, dowT] = fields;
  const sec = parseField(secT, 0, 59);
  const min = parseField(minT, 0, 59);
  const hour = parseField(hourT, 0, 23);
  const dom = parseField(domT, 1, 31);
  const month = parseField(monT, 1, 12, MONTH_ABBREVIATIONS, 1);
  const dow = parseField(dowT, 0, 7, WEEKDAY_ABBREVIATIONS);
  if (!sec || !min || !hour || !dom || !month || !dow) return null;

  const time = describeTime(sec, min, hour);
  if (!time) return null;
  if (dom.kind === 'step' || month.kind === 'step' || dow.kind === 'step') return null;

  const domOne = single(dom);
  const monthOne = single(month);
  let day = '';
  if (dom.kind !== 'any' && dow.kind === 'any' && domOne !== null && monthOne !== null) {
    // "on 1 January": both fixed reads as a date.
    day = ` on ${domOne} ${MONTH_WORDS[monthOne - 1]}`;
  } else {
    const d = dom.kind === 'any' ? '' : describeDom(dom);
    const w = dow.kind === 'any' ? null : describeDow(dow);
    const mo = month.kind === 'any' ? '' : describeMonth(month);
    if (d === null || mo === null || (dow.kind !== 'any' && w === null)) return null;
    if (d && w) day = ` ${d} or ${w.lead === ',' ? `from ${w.words}` : `${w.lead.trim()} ${w.words}`}`;
    else if (d) day = ` ${d}`;
    else if (w) day = `${w.lead} ${w.words}`;
    if (mo) day += d || w || !time.daily ? ` ${mo}` : ` every day ${mo}`;
  }
  if (!day) return time.daily ? `Every day at ${time.text.slice(3)}` : time.text;
  return time.text + day;
}
