import type { ParentRun } from '@app/persistence';
import {
  allOccasionKey,
  anyOccasionKey,
  outcomeOf,
  pickPartner,
  readyAt,
  satisfies,
  shareSchedule,
  startsChildren,
  withinWindow,
} from './dependency-rules';

const JOB = { retries: 0, updatedAt: 0 };
const RETRYING = { retries: 2, updatedAt: 0 };

function run(over: Partial<ParentRun> = {}): ParentRun {
  return {
    id: 1,
    jobId: 10,
    tickKey: '1700000000',
    attempt: 1,
    scheduledAt: 1_700_000_000_000,
    status: 'succeeded',
    startedAt: 1_700_000_000_100,
    finishedAt: 1_700_000_001_000,
    updatedAt: 1_700_000_001_000,
    hasNext: false,
    ...over,
  };
}

describe('dependency rules', () => {
  it('a success is a success; a failure-type status counts on the final attempt only', () => {
    expect(outcomeOf(run(), JOB)).toBe('success');
    for (const status of ['failed', 'timed_out', 'lost'] as const) {
      expect(outcomeOf(run({ status }), JOB)).toBe('failure');
      // Attempts left and no job change since: a retry is owed, so this attempt is nothing yet.
      expect(outcomeOf(run({ status }), RETRYING)).toBeNull();
      expect(outcomeOf(run({ status, attempt: 3 }), RETRYING)).toBe('failure');
      expect(outcomeOf(run({ status, hasNext: true }), JOB)).toBeNull();
    }
    for (const status of ['skipped', 'missed', 'cancelled', 'pending', 'running'] as const) {
      expect(outcomeOf(run({ status }), JOB)).toBeNull();
    }
  });

  it('conditions: success, failure, always; nothing satisfies none', () => {
    expect(satisfies('success', 'success')).toBe(true);
    expect(satisfies('success', 'failure')).toBe(false);
    expect(satisfies('failure', 'failure')).toBe(true);
    expect(satisfies('failure', 'success')).toBe(false);
    expect(satisfies('always', 'success')).toBe(true);
    expect(satisfies('always', 'failure')).toBe(true);
    expect(satisfies('always', null)).toBe(false);
  });

  it('a plain manual run starts no children; a cascade one and scheduled ones do', () => {
    expect(startsChildren({ tickKey: 'manual:0b6f…' })).toBe(false);
    expect(startsChildren({ tickKey: 'cascade:0b6f…' })).toBe(true);
    expect(startsChildren({ tickKey: '1700000000' })).toBe(true);
    expect(startsChildren({ tickKey: 'dep:3:1700000000' })).toBe(true);
  });

  it('any: the key is the parent tick’s, bounded to the column however deep the chain', () => {
    expect(anyOccasionKey(3, '1700000000')).toBe('dep:3:1700000000');
    let key = '1700000000';
    for (let job = 1; job <= 1000; job++) {
      key = anyOccasionKey(job, key);
      expect(key.length).toBeLessThanOrEqual(64);
    }
    // Deterministic, and distinct for distinct parent keys.
    const long = 'dep:999999:dep:999998:dep:999997:dep:999996:1700000000';
    expect(anyOccasionKey(1, long)).toBe(anyOccasionKey(1, long));
    expect(anyOccasionKey(1, long)).not.toBe(anyOccasionKey(1, `${long}x`));
    expect(anyOccasionKey(1, long)).not.toBe(anyOccasionKey(2, long));
  });

  it('all: the key is the earliest parent scheduledAt; ready at the last finish', () => {
    const a = run({ scheduledAt: 5000, finishedAt: 9000 });
    const b = run({ scheduledAt: 3000, finishedAt: 12000 });
    expect(allOccasionKey([a, b])).toBe('dep:all:3000');
    expect(readyAt([a, b])).toBe(12000);
    expect(readyAt([run({ finishedAt: null, updatedAt: 777 })])).toBe(777);
  });

  it('parents share a schedule only with one non-empty cron and zone', () => {
    expect(
      shareSchedule([
        { cron: '0 * * * *', timezone: 'UTC' },
        { cron: '0 * * * *', timezone: 'UTC' },
      ]),
    ).toBe(true);
    expect(
      shareSchedule([
        { cron: '0 * * * *', timezone: 'UTC' },
        { cron: '0 * * * *', timezone: 'Asia/Tokyo' },
      ]),
    ).toBe(false);
    expect(
      shareSchedule([
        { cron: '', timezone: 'UTC' },
        { cron: '', timezone: 'UTC' },
      ]),
    ).toBe(false);
  });

  describe('pickPartner', () => {
    const anchor = { scheduledAt: 10_000 };
    const edge = { on: 'success' as const };

    it('shared schedule: only the same instant counts', () => {
      const same = run({ id: 2, scheduledAt: 10_000 });
      const near = run({ id: 3, scheduledAt: 10_001 });
      expect(pickPartner(anchor, [near, same], edge, JOB, new Set(), true, 3600_000)).toBe(same);
      expect(pickPartner(anchor, [near], edge, JOB, new Set(), true, 3600_000)).toBeNull();
    });

    it('window: the closest satisfying, unconsumed run within the window; a tie goes to the newest', () => {
      const far = run({ id: 2, scheduledAt: 10_000 + 5000 });
      const close = run({ id: 3, scheduledAt: 10_000 - 1000 });
      const tie = run({ id: 4, scheduledAt: 10_000 + 1000 });
      const failed = run({ id: 5, scheduledAt: 10_000, status: 'failed' });
      const manual = run({ id: 6, scheduledAt: 10_000, tickKey: 'manual:x' });
      const all = [far, close, tie, failed, manual];
      expect(pickPartner(anchor, all, edge, JOB, new Set(), false, 10_000)?.id).toBe(4);
      expect(pickPartner(anchor, all, edge, JOB, new Set([4]), false, 10_000)?.id).toBe(3);
      expect(pickPartner(anchor, all, edge, JOB, new Set([3, 4]), false, 10_000)?.id).toBe(2);
      expect(pickPartner(anchor, all, edge, JOB, new Set([3, 4]), false, 4000)).toBeNull();
      expect(pickPartner(anchor, all, { on: 'failure' }, JOB, new Set(), false, 10_000)?.id).toBe(5);
    });

    it('the runs of an occasion must lie within the window of each other', () => {
      expect(withinWindow([{ scheduledAt: 0 }, { scheduledAt: 1000 }, { scheduledAt: 2000 }], 2000)).toBe(true);
      expect(withinWindow([{ scheduledAt: 0 }, { scheduledAt: 1000 }, { scheduledAt: 2001 }], 2000)).toBe(false);
    });
  });
});
