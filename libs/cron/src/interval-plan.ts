import { FirePlan, MAX_INSTANT } from './fire-plan';

/**
 * `@every <duration>`: absolute instants anchor + k * interval (k >= 1). Being pure arithmetic on
 * instants, it is immune to time zones and DST, which is the point of choosing @every.
 */
export class IntervalPlan implements FirePlan {
  private readonly base: number;

  constructor(
    anchor: number,
    private readonly intervalMs: number,
  ) {
    this.base = Math.floor(anchor / 1000) * 1000;
  }

  nextAfter(after: number): number | null {
    const instant = this.base + this.firstIndexAfter(after) * this.intervalMs;
    return instant <= MAX_INSTANT ? instant : null;
  }

  countBetween(after: number, until: number, cap: number): number {
    const lastIndex = Math.floor((Math.min(until, MAX_INSTANT) - this.base) / this.intervalMs);
    const count = lastIndex - this.firstIndexAfter(after) + 1;
    return Math.max(0, Math.min(count, cap));
  }

  private firstIndexAfter(after: number): number {
    return Math.max(1, Math.floor((after - this.base) / this.intervalMs) + 1);
  }
}
