import { CronSchedule } from '@app/cron';
import { MISFIRE_THRESHOLD_MS, planTicks } from './tick-planner';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const everySecond = CronSchedule.parse('* * * * * *');
const sec = (n: number) => T0 + n * 1000;

describe('planTicks', () => {
  it('fires every due tick after the cursor while the dispatcher runs, however late the timer', () => {
    // Cursor at T0, now T0+3.5s, started long ago: ticks 1,2,3 are due and fresh.
    const plan = planTicks(everySecond, sec(0), sec(3) + 500, sec(-3600), 'skip');
    expect(plan.fire).toEqual([1, 2, 3].map((n) => ({ at: sec(n), trigger: 'schedule' })));
    expect(plan.dropped).toBeNull();
    expect(plan.latest).toBe(sec(3));
  });

  it('never re-fires the cursor tick itself', () => {
    expect(planTicks(everySecond, sec(5), sec(5) + 999, 0, 'all').fire).toEqual([]);
  });

  it("misfire 'once' fires the latest missed tick and records the rest as dropped", () => {
    // Dispatcher down from T0 to T0+10s; ticks 1..9 fell before it started at 10s; now 10.2s.
    const plan = planTicks(everySecond, sec(0), sec(10) + 200, sec(10), 'once');
    expect(plan.fire).toEqual([
      { at: sec(9), trigger: 'misfire' },
      { at: sec(10), trigger: 'schedule' },
    ]);
    expect(plan.dropped).toEqual({ from: sec(1), to: sec(8), count: 8, capped: false });
  });

  it("misfire 'skip' drops all missed ticks; 'all' fires each", () => {
    const skip = planTicks(everySecond, sec(0), sec(10) + 200, sec(10), 'skip');
    expect(skip.fire).toEqual([{ at: sec(10), trigger: 'schedule' }]);
    expect(skip.dropped?.count).toBe(9);
    const all = planTicks(everySecond, sec(0), sec(10) + 200, sec(10), 'all');
    expect(all.fire.filter((t) => t.trigger === 'misfire').map((t) => t.at)).toEqual(
      [1, 2, 3, 4, 5, 6, 7, 8, 9].map(sec),
    );
    expect(all.dropped).toBeNull();
  });

  it("misfire 'all' fires at most 100 and records the older ones as dropped", () => {
    const plan = planTicks(everySecond, sec(0), sec(500), sec(500), 'all');
    expect(plan.fire.filter((t) => t.trigger === 'misfire')).toHaveLength(100);
    expect(plan.fire[0].at).toBe(sec(400)); // missed are 1..499 (500 fell after start): the latest 100
    expect(plan.dropped).toEqual({ from: sec(1), to: sec(399), count: 399, capped: false });
  });

  it('treats ticks more than the threshold late as misfired even while running', () => {
    const now = sec(0) + MISFIRE_THRESHOLD_MS + 5000;
    const plan = planTicks(CronSchedule.parse('*/10 * * * * *'), sec(0), now, sec(-3600), 'skip');
    // at 35 s every tick (10, 20, 30 s) is at most 25 s late: all fire.
    expect(plan.fire.map((t) => t.at)).toEqual([sec(10), sec(20), sec(30)]);
    const later = planTicks(CronSchedule.parse('*/10 * * * * *'), sec(0), sec(45), sec(-3600), 'skip');
    // at 45 s: tick 10 is 35 s late (> 30 s): dropped; 20, 30, 40 fire.
    expect(later.fire.map((t) => t.at)).toEqual([sec(20), sec(30), sec(40)]);
    expect(later.dropped).toEqual({ from: sec(10), to: sec(10), count: 1, capped: false });
  });
});
