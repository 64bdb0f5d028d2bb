import { CronSchedule } from '@app/cron';
import { MisfireRule, planTicks } from './tick-planner';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const everySecond = CronSchedule.parse('* * * * * *');
const sec = (n: number) => T0 + n * 1000;
const THRESHOLD_MS = 30_000;
/** The rule of a dispatcher started at `startedAt`, with the default threshold. */
const startedAt = (at: number, over: Partial<MisfireRule> = {}): MisfireRule => ({
  thresholdMs: THRESHOLD_MS,
  startedAt: at,
  ...over,
});

describe('planTicks', () => {
  it('fires every due tick after the cursor while the dispatcher runs, however late the timer', () => {
    // Cursor at T0, now T0+3.5s, started long ago: ticks 1,2,3 are due and fresh.
    const plan = planTicks(everySecond, sec(0), sec(3) + 500, 'skip', startedAt(sec(-3600)));
    expect(plan.fire).toEqual([1, 2, 3].map((n) => ({ at: sec(n), trigger: 'schedule' })));
    expect(plan.dropped).toBeNull();
    expect(plan.latest).toBe(sec(3));
  });

  it('never re-fires the cursor tick itself', () => {
    expect(planTicks(everySecond, sec(5), sec(5) + 999, 'all', startedAt(0)).fire).toEqual([]);
  });

  it("misfire 'once' fires the latest missed tick and records the rest as dropped", () => {
    // Dispatcher down from T0 to T0+10s; ticks 1..9 fell before it started at 10s; now 10.2s.
    const plan = planTicks(everySecond, sec(0), sec(10) + 200, 'once', startedAt(sec(10)));
    expect(plan.fire).toEqual([
      { at: sec(9), trigger: 'misfire' },
      { at: sec(10), trigger: 'schedule' },
    ]);
    expect(plan.dropped).toEqual({ from: sec(1), to: sec(8), count: 8, capped: false });
  });

  it("misfire 'skip' drops all missed ticks; 'all' fires each", () => {
    const skip = planTicks(everySecond, sec(0), sec(10) + 200, 'skip', startedAt(sec(10)));
    expect(skip.fire).toEqual([{ at: sec(10), trigger: 'schedule' }]);
    expect(skip.dropped?.count).toBe(9);
    const all = planTicks(everySecond, sec(0), sec(10) + 200, 'all', startedAt(sec(10)));
    expect(all.fire.filter((t) => t.trigger === 'misfire').map((t) => t.at)).toEqual(
      [1, 2, 3, 4, 5, 6, 7, 8, 9].map(sec),
    );
    expect(all.dropped).toBeNull();
  });

  it("misfire 'all' fires at most 100 and records the older ones as dropped", () => {
    const plan = planTicks(everySecond, sec(0), sec(500), 'all', startedAt(sec(500)));
    expect(plan.fire.filter((t) => t.trigger === 'misfire')).toHaveLength(100);
    expect(plan.fire[0].at).toBe(sec(400)); // missed are 1..499 (500 fell after start): the latest 100
    expect(plan.dropped).toEqual({ from: sec(1), to: sec(399), count: 399, capped: false });
  });

  it('treats ticks more than the threshold late as misfired even while running', () => {
    const now = sec(0) + THRESHOLD_MS + 5000;
    const plan = planTicks(CronSchedule.parse('*/10 * * * * *'), sec(0), now, 'skip', startedAt(sec(-3600)));
    // at 35 s every tick (10, 20, 30 s) is at most 25 s late: all fire.
    expect(plan.fire.map((t) => t.at)).toEqual([sec(10), sec(20), sec(30)]);
    const later = planTicks(CronSchedule.parse('*/10 * * * * *'), sec(0), sec(45), 'skip', startedAt(sec(-3600)));
    // at 45 s: tick 10 is 35 s late (> 30 s): dropped; 20, 30, 40 fire.
    expect(later.fire.map((t) => t.at)).toEqual([sec(20), sec(30), sec(40)]);
    expect(later.dropped).toEqual({ from: sec(10), to: sec(10), count: 1, capped: false });
  });

  it('takes the lateness threshold it is given ([dispatcher] misfire_threshold)', () => {
    // 12 s after its tick, with a 10 s threshold: tick 1 is misfired (and dropped by 'skip'), 2..12 fire.
    const plan = planTicks(everySecond, sec(0), sec(12), 'skip', startedAt(sec(-3600), { thresholdMs: 10_000 }));
    expect(plan.dropped).toEqual({ from: sec(1), to: sec(1), count: 1, capped: false });
    expect(plan.fire[0]).toEqual({ at: sec(2), trigger: 'schedule' });
  });

  it('counts the ticks before its start as an outage only when one falls after the last sign of a dispatcher', () => {
    // Started at 10 s; the record at the cursor (0 s) was written at 6 s, and 7..9 fell after it: an outage. Every
    // tick before the start is then misfired (dropped by 'skip'), so the range starts at the cursor's next tick.
    const outage = planTicks(everySecond, sec(0), sec(10) + 200, 'once', startedAt(sec(10), { seenAt: sec(6) }));
    expect(outage.dropped).toEqual({ from: sec(1), to: sec(8), count: 8, capped: false });
    expect(outage.fire).toEqual([
      { at: sec(9), trigger: 'misfire' },
      { at: sec(10), trigger: 'schedule' },
    ]);
    // The record was written after the start: a dispatcher was at work through every tick, they are only late.
    const late = planTicks(everySecond, sec(0), sec(10) + 200, 'once', startedAt(sec(10), { seenAt: sec(10) + 100 }));
    expect(late.dropped).toBeNull();
    expect(late.fire).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((n) => ({ at: sec(n), trigger: 'schedule' })));
  });

  it('plans every tick in walking order: the dropped ones first, from the cursor, then those to fire, ascending', () => {
    // What the misfire fence rests on (README, "Scheduling"): a range starts at the cursor's next tick.
    for (const policy of ['skip', 'once', 'all'] as const) {
      for (const seenAt of [null, sec(2), sec(20), sec(40), sec(70)]) {
        for (const start of [sec(-60), sec(15), sec(45), sec(75)]) {
          for (const thresholdMs of [1000, 10_000, 30_000]) {
            const plan = planTicks(everySecond, sec(0), sec(60), policy, { thresholdMs, startedAt: start, seenAt });
            const walk = [...(plan.dropped ? [plan.dropped.from, plan.dropped.to] : []), ...plan.fire.map((t) => t.at)];
            expect(walk[0]).toBe(sec(1));
            expect(walk.every((t, i) => i === 0 || t > walk[i - 1] || (i === 1 && t === walk[0]))).toBe(true);
            expect(plan.latest).toBe(sec(60));
            expect((plan.dropped?.count ?? 0) + plan.fire.length).toBe(60); // each due tick dropped or fired
          }
        }
      }
    }
  });

  it("'once' after an outage longer than the enumeration cap fires the latest missed tick, exactly once", () => {
    // Down for 250,000 s (almost 3 days) of an every-second job: more due ticks than one plan enumerates.
    const started = sec(250_000);
    const now = started + 500;
    const plan = planTicks(everySecond, sec(0), now, 'once', startedAt(started));
    expect(plan.fire).toEqual([
      { at: sec(249_999), trigger: 'misfire' },
      { at: sec(250_000), trigger: 'schedule' },
    ]);
    expect(plan.latest).toBe(sec(250_000));
    expect(plan.dropped).toMatchObject({ from: sec(1), to: sec(249_998), capped: true });
    expect(plan.dropped!.count).toBeGreaterThanOrEqual(100_000);
    // Carried out (the cursor moves to `latest`), nothing of the outage is left for a second pass to fire.
    expect(planTicks(everySecond, plan.latest, now, 'once', startedAt(started))).toEqual({
      fire: [],
      dropped: null,
      latest: sec(250_000),
    });
  });

  it("'all' after an outage longer than the enumeration cap fires the latest 100 missed ticks, oldest first", () => {
    const started = sec(250_000);
    const plan = planTicks(everySecond, sec(0), started + 500, 'all', startedAt(started));
    const misfired = plan.fire.filter((t) => t.trigger === 'misfire').map((t) => t.at);
    expect(misfired).toEqual(Array.from({ length: 100 }, (_, i) => sec(249_900 + i)));
    expect(plan.dropped).toMatchObject({ from: sec(1), to: sec(249_899), capped: true });
  });
});
