/** A log call: Nest's Logger.warn or .error bound to its logger. */
export type LogFn = (message: string | Record<string, unknown>) => void;

/**
 * Repeated warnings of one kind, at a bounded rate: the first of a kind is logged at once; the ones that follow
 * within `intervalMs` are only counted, and the next one after the interval is logged with that count. A database
 * outage then writes a line per kind every 10 s, not one per due job per second, and still says how many there
 * were. Kinds are a handful of fixed names, so the map stays small; a kind quiet for an interval starts afresh.
 */
export class LogThrottle {
  private readonly kinds = new Map<string, { since: number; suppressed: number }>();

  constructor(
    private readonly log: LogFn,
    private readonly intervalMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Logs `message` unless one of this kind was logged less than the interval ago; answers whether it did. */
  warn(kind: string, message: string | Record<string, unknown>): boolean {
    const now = this.now();
    const k = this.kinds.get(kind);
    if (k && now - k.since < this.intervalMs) {
      k.suppressed++;
      return false;
    }
    const suppressed = k?.suppressed ?? 0;
    this.kinds.set(kind, { since: now, suppressed: 0 });
    if (suppressed === 0) this.log(message);
    else {
      const note = `(and ${suppressed} more like it in the previous ${Math.round((now - k!.since) / 1000)} s)`;
      this.log(typeof message === 'string' ? `${message} ${note}` : { ...message, repeated: suppressed, note });
    }
    return true;
  }
}
