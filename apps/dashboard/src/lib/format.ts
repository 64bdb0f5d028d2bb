// Times and durations as people read them. Absolute times use the browser's locale; a zone is named when given.

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 60_000) return `${Math.round(ms / 1000)} s`;
  return formatSpan(ms);
}

/** Coarse, two units at most: "3 d 4 h", "5 min 2 s". */
export function formatSpan(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const two = (a: number, ua: string, b: number, ub: string) => (b ? `${a} ${ua} ${b} ${ub}` : `${a} ${ua}`);
  if (d) return two(d, 'd', h, 'h');
  if (h) return two(h, 'h', m, 'min');
  if (m) return two(m, 'min', sec, 's');
  return `${sec} s`;
}

/** "in 5 s", "3 min ago"; `upcoming` times a few seconds past (a tick being taken right now) read "now". */
export function formatRelative(iso: string, now: number, upcoming = false): string {
  const diff = Date.parse(iso) - now;
  const abs = Math.abs(diff);
  if (abs < 1000 || (upcoming && diff < 0 && diff > -5000)) return 'now';
  const span = abs < 60_000 ? `${Math.round(abs / 1000)} s` : formatSpan(abs).replace(/ \d+ s$/, '');
  return diff > 0 ? `in ${span}` : `${span} ago`;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string | undefined, withDate: boolean): Intl.DateTimeFormat {
  const key = `${timeZone ?? ''}|${withDate}`;
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(undefined, {
      timeZone,
      weekday: withDate ? 'short' : undefined,
      year: withDate ? 'numeric' : undefined,
      month: withDate ? 'short' : undefined,
      day: withDate ? 'numeric' : undefined,
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(key, f);
  }
  return f;
}

/** "Tue, 25 Nov 2026, 14:00:00"; in `timeZone` when given (an unknown zone falls back to the browser's). */
export function formatDateTime(iso: string | null | undefined, timeZone?: string): string {
  if (!iso) return '—';
  try {
    return formatter(timeZone, true).format(new Date(iso));
  } catch {
    return formatter(undefined, true).format(new Date(iso));
  }
}

/** "08:00", or "Wed 23:00" when that instant falls on another day in `timeZone` than in `sameDayAs`'s zone. */
export function formatClock(iso: string, timeZone: string, sameDayAs: string): string {
  try {
    return clockIn(iso, timeZone, sameDayAs);
  } catch {
    return ''; // an unknown zone name: the API says so beside the field
  }
}

function clockIn(iso: string, timeZone: string, sameDayAs: string): string {
  const day = (tz: string) =>
    new Intl.DateTimeFormat('en-CA', { timeZone: tz, dateStyle: 'short' }).format(new Date(iso));
  const clock = new Intl.DateTimeFormat(undefined, {
    timeZone,
    weekday: day(timeZone) === day(sameDayAs) ? undefined : 'short',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  });
  return clock.format(new Date(iso));
}

/** Time only when it is today (browser zone), else date and time. */
export function formatShort(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '—';
  const d = new Date(iso);
  const sameDay = d.toDateString() === new Date(now).toDateString();
  return sameDay ? formatter(undefined, false).format(d) : formatDateTime(iso);
}

/** "+120 ms": how late a run started after the instant it was scheduled for. */
export function formatLag(scheduledAt: string, startedAt: string | null): string {
  if (!startedAt) return '—';
  const lag = Date.parse(startedAt) - Date.parse(scheduledAt);
  return `${lag < 0 ? '−' : '+'}${formatDuration(Math.abs(lag))}`;
}

export function browserTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

export function timeZones(): string[] {
  try {
    return ['UTC', ...Intl.supportedValuesOf('timeZone').filter((z) => z !== 'UTC')];
  } catch {
    return ['UTC'];
  }
}

export const humanize = (s: string) => s.replace(/_/g, ' ');
